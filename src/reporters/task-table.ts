// MetaSchedule's task table, in the shape its users read every day (TVM's TablePrinter:
// right-aligned cells, ` | ` between columns, a dashed rule under the header and at the end).

export interface TaskRow {
  id: number;
  name: string;
  flop: number;
  weight: number;
  /** Best measured latency in seconds; undefined before any successful trial. */
  latencySec?: number;
  trials: number;
  done: boolean;
}

const HEADER = ['ID', 'Name', 'FLOP', 'Weight', 'Speed (GFLOPS)', 'Latency (us)', 'Weighted Latency (us)', 'Trials', 'Done'];

/** Lines of a right-aligned table with a rule under the header and one at the end. */
export function renderTable(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => widths.map((w, i) => ` ${(cells[i] ?? '').padStart(w)} `).join('|');
  const rule = '-'.repeat(widths.reduce((a, w) => a + w + 2, 0) + widths.length - 1);
  return [line(header), rule, ...rows.map(line), rule];
}

/** C++ ostream's default float output (6 significant digits, %g), as TVM prints totals. */
export function formatG(x: number, precision = 6): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const exp = Math.floor(Math.log10(Math.abs(x)));
  if (exp < -4 || exp >= precision) {
    const [mant, e] = x.toExponential(precision - 1).split('e');
    const m = mant.includes('.') ? mant.replace(/\.?0+$/, '') : mant;
    const n = Number(e);
    return `${m}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  const fixed = x.toFixed(Math.max(0, precision - 1 - exp));
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}

function rowCells(row: TaskRow): string[] {
  const cells = [String(row.id), row.name, String(Math.round(row.flop)), String(row.weight)];
  if (row.latencySec !== undefined && row.latencySec > 0) {
    const us = row.latencySec * 1e6;
    cells.push((row.flop / row.latencySec / 1e9).toFixed(4), us.toFixed(4), (row.weight * us).toFixed(4));
  } else {
    cells.push('N/A', 'N/A', 'N/A');
  }
  cells.push(String(row.trials), row.done ? 'Y' : '');
  return cells;
}

/** The task table followed by the totals, as lines. */
export function renderTaskTable(rows: TaskRow[]): string[] {
  const totalTrials = rows.reduce((a, r) => a + r.trials, 0);
  const totalUs = rows.reduce((a, r) => a + (r.latencySec !== undefined ? r.weight * r.latencySec * 1e6 : 0), 0);
  return [
    ...renderTable(HEADER, rows.map(rowCells)),
    `Total trials: ${totalTrials}`,
    `Total latency (us): ${formatG(totalUs)}`,
  ];
}
