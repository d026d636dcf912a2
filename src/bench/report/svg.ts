// Tuning-curve plots as inline SVG, drawn here so the report needs no network and no library
// at view time: best latency (log scale) against trials, one step line per strategy (the median
// over seeds) over a band from the best to the worst seed. Pure: data in, markup out.

export interface CurveSeries {
  name: string;
  color: string;
  median: ReadonlyArray<number | null>;
  min: ReadonlyArray<number | null>;
  max: ReadonlyArray<number | null>;
}

export interface CurvePlot {
  title: string;
  series: CurveSeries[];
  /** Trials on the x axis: 1..xMax. */
  xMax: number;
  /** Vertical markers, e.g. the bench's budgets. */
  budgets: number[];
  /** A horizontal reference line, e.g. numpy/OpenBLAS on the same operation (µs). */
  reference?: { label: string; valueUs: number };
}

const W = 680;
const H = 360;
const M = { left: 70, right: 160, top: 34, bottom: 46 };
const PW = W - M.left - M.right;
const PH = H - M.top - M.bottom;

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** 1234.5 → "1.23 ms", 87 → "87 µs": latencies as people read them. */
export function formatLatency(us: number): string {
  if (us >= 1e6) return `${trim(us / 1e6)} s`;
  if (us >= 1e3) return `${trim(us / 1e3)} ms`;
  return `${trim(us)} µs`;
}

function trim(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1).replace(/\.0$/, '') : x.toFixed(2).replace(/\.?0+$/, '');
}

const f = (x: number): string => x.toFixed(1);

/** Tick values on a log axis between lo and hi: decades, or 1-2-5, or finer, at most ~7. */
export function logTicks(lo: number, hi: number): number[] {
  const decades = Math.log10(hi / lo);
  const mantissas = decades >= 3 ? [1] : decades >= 1 ? [1, 2, 5] : decades >= 0.4 ? [1, 1.5, 2, 3, 5, 7] : [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9];
  const ticks: number[] = [];
  for (let k = Math.floor(Math.log10(lo)); k <= Math.ceil(Math.log10(hi)); k++) {
    for (const m of mantissas) {
      const v = m * 10 ** k;
      if (v >= lo * 0.999 && v <= hi * 1.001) ticks.push(v);
    }
  }
  if (ticks.length <= 7) return ticks.length >= 2 ? ticks : [lo, hi];
  const step = Math.ceil(ticks.length / 7);
  return ticks.filter((_, i) => i % step === 0);
}

function linearTicks(max: number): number[] {
  const raw = max / 6;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let v = 0; v <= max + 1e-9; v += step) ticks.push(Math.max(1, v));
  return [...new Set(ticks)];
}

/** A step path through (trial, value): best-so-far holds until the next improvement. */
function stepPoints(values: ReadonlyArray<number | null>, x: (t: number) => number, y: (v: number) => number): string[] {
  const segments: string[] = [];
  let current = '';
  let lastY: number | null = null;
  values.forEach((v, i) => {
    const t = i + 1;
    if (v === null) {
      if (current) segments.push(current);
      current = '';
      lastY = null;
      return;
    }
    const px = x(t);
    const py = y(v);
    if (lastY === null) current = `M${f(px)},${f(py)}`;
    else current += ` H${f(px)} V${f(py)}`;
    lastY = py;
  });
  if (current) segments.push(current);
  return segments;
}

/** The band between min and max over seeds, one closed step polygon per run of known values. */
function bandPaths(min: ReadonlyArray<number | null>, max: ReadonlyArray<number | null>, x: (t: number) => number, y: (v: number) => number): string[] {
  const out: string[] = [];
  let start = -1;
  const flush = (end: number) => {
    if (start < 0) return;
    const upper: string[] = [];
    const lower: string[] = [];
    for (let i = start; i < end; i++) {
      const x0 = x(i + 1);
      const x1 = x(Math.min(i + 2, min.length));
      upper.push(`${f(x0)},${f(y(max[i] as number))}`, `${f(x1)},${f(y(max[i] as number))}`);
      lower.push(`${f(x0)},${f(y(min[i] as number))}`, `${f(x1)},${f(y(min[i] as number))}`);
    }
    out.push(`M${upper.join(' L')} L${lower.reverse().join(' L')} Z`);
    start = -1;
  };
  for (let i = 0; i < min.length; i++) {
    const known = min[i] !== null && max[i] !== null;
    if (known && start < 0) start = i;
    if (!known) flush(i);
  }
  flush(min.length);
  return out;
}

export function renderCurvePlot(plot: CurvePlot): string {
  const values: number[] = [];
  for (const s of plot.series) for (const arr of [s.min, s.max, s.median]) for (const v of arr) if (v !== null && v > 0) values.push(v);
  if (plot.reference) values.push(plot.reference.valueUs);
  const title = `<text class="title" x="${M.left}" y="20">${escapeXml(plot.title)}</text>`;
  if (values.length === 0) {
    return (
      `<svg xmlns="http://www.w3.org/2000/svg" class="plot empty" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img">` +
      `${title}<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no successful trial to plot</text></svg>`
    );
  }
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (hi / lo < 1.2) {
    lo /= 1.1;
    hi *= 1.1;
  }
  lo /= 1.05;
  hi *= 1.05;
  const xMax = Math.max(2, plot.xMax);
  const x = (t: number) => M.left + ((t - 1) / (xMax - 1)) * PW;
  const y = (v: number) => M.top + (1 - (Math.log(v) - Math.log(lo)) / (Math.log(hi) - Math.log(lo))) * PH;

  const parts: string[] = [title];
  parts.push(`<rect class="frame" x="${M.left}" y="${M.top}" width="${PW}" height="${PH}" fill="none" stroke="#ccc"/>`);
  for (const v of logTicks(lo, hi)) {
    const py = f(y(v));
    parts.push(`<line class="grid" x1="${M.left}" x2="${M.left + PW}" y1="${py}" y2="${py}" stroke="#eee"/>`);
    parts.push(`<text class="tick" x="${M.left - 6}" y="${py}" text-anchor="end" dominant-baseline="middle">${escapeXml(formatLatency(v))}</text>`);
  }
  for (const t of linearTicks(xMax)) {
    parts.push(`<text class="tick" x="${f(x(t))}" y="${M.top + PH + 16}" text-anchor="middle">${t}</text>`);
  }
  for (const b of plot.budgets) {
    if (b > xMax) continue;
    const px = f(x(b));
    parts.push(`<line class="budget" x1="${px}" x2="${px}" y1="${M.top}" y2="${M.top + PH}" stroke="#bbb" stroke-dasharray="3 3"/>`);
  }
  parts.push(`<text class="axis" x="${M.left + PW / 2}" y="${H - 8}" text-anchor="middle">hardware trials</text>`);
  parts.push(
    `<text class="axis" transform="translate(14 ${M.top + PH / 2}) rotate(-90)" text-anchor="middle">best latency (log scale)</text>`,
  );
  if (plot.reference) {
    const py = f(y(plot.reference.valueUs));
    parts.push(
      `<g class="reference"><line x1="${M.left}" x2="${M.left + PW}" y1="${py}" y2="${py}" stroke="#111" stroke-dasharray="6 3"/>` +
        `<text x="${M.left + PW - 4}" y="${Number(py) - 5}" text-anchor="end">${escapeXml(plot.reference.label)}</text></g>`,
    );
  }
  plot.series.forEach((s, i) => {
    const band = bandPaths(s.min, s.max, x, y)
      .map((d) => `<path class="band" d="${d}" fill="${s.color}" fill-opacity="0.14" stroke="none"/>`)
      .join('');
    const line = stepPoints(s.median, x, y)
      .map((d) => `<path class="median" d="${d}" fill="none" stroke="${s.color}" stroke-width="2.2"/>`)
      .join('');
    const ly = M.top + 10 + i * 22;
    const legend =
      `<line x1="${M.left + PW + 14}" x2="${M.left + PW + 38}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="3"/>` +
      `<text class="legend" x="${M.left + PW + 44}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`;
    parts.push(`<g class="series" data-strategy="${escapeXml(s.name)}">${band}${line}${legend}</g>`);
  });
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="plot" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" ` +
    `aria-label="${escapeXml(plot.title)}">${parts.join('')}</svg>`
  );
}
