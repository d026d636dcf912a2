// The report page from a bench result in memory: plots, tables, settings; nothing fetched.
import { logTicks, parseBench, Progress, renderCurvePlot, renderReport, targetLines } from '../../src/bench';
import { benchOf, run } from './fixtures';

const BUDGETS = [2, 4];

function bench() {
  return benchOf(
    [
      run('GMM:1', 'colt', 0, [300, 100, 100, 90], { 2: 100, 4: 90 }, BUDGETS),
      run('GMM:1', 'evolutionary', 0, [400, 200, 180, 150], { 2: 200, 4: 150 }, BUDGETS),
    ],
    BUDGETS,
    ['colt', 'evolutionary'],
    ['GMM:1'],
    72,
  );
}

describe('renderReport', () => {
  const html = renderReport(bench());

  it('is one self-contained page: no script, no external resource', () => {
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).not.toMatch(/<script|<link|src=|url\(|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });

  it('draws one plot per workload with a line per strategy and the BLAS reference', () => {
    expect(html.match(/<svg[^>]*class="plot"/g)).toHaveLength(1);
    expect(html).toContain('data-strategy="colt"');
    expect(html).toContain('data-strategy="evolutionary"');
    const medians = [...html.matchAll(/<path class="median" d="([^"]+)"/g)].map((m) => m[1]);
    expect(medians).toHaveLength(2);
    for (const d of medians) expect(d).toMatch(/^M[\d.]+,[\d.]+( H[\d.]+ V[\d.]+)+$/);
    expect(html).toContain('numpy/OpenBLAS 72 µs');
  });

  it('shows the ratios, the sample efficiency and % of BLAS', () => {
    expect(html).toContain('2.00×');
    expect(html).toContain('1.67×');
    expect(html).toContain("colt reaches evolutionary's best-at-4 (150 µs) after 2 trials: 2.0×");
    expect(html).toContain('80%'); // 72 / 90
  });

  it('shows each geometric mean with its 90% bootstrap interval', () => {
    const two = bench();
    two.runs.push(run('GMM:1', 'colt', 1, [300, 120, 120, 120], { 2: 120, 4: 120 }, BUDGETS));
    const page = renderReport(two);
    // Seeds of COLT at 4 trials: 90 and 120; evolutionary 150. Resamples give 150/120, 150/105 or 150/90.
    const cells = [...page.matchAll(/<span class="range interval" title="90% bootstrap interval, 2000 resamples">([^<]+)<\/span>/g)].map((m) => m[1]);
    expect(cells).toEqual([`${(200 / 120).toFixed(2)}×–${(200 / 100).toFixed(2)}×`, `${(150 / 120).toFixed(2)}×–${(150 / 90).toFixed(2)}×`]);
    expect(page).toContain('90% bootstrap interval: workloads resampled with replacement, then each side');
  });

  it('shows the wall times, on one clock for every strategy', () => {
    const b = bench();
    b.runs[0].recordSeenSec = [30, 30, 40, 40];
    b.runs[0].wallSeconds = { total: 50, search: 1, predict: 1, buildMeasure: 40, startup: 8, firstRecord: 30 };
    b.runs[1].recordSeenSec = [10, 10, 20, 20];
    b.runs[1].wallSeconds = { total: 25, startup: 5, firstRecord: 10 };
    const page = renderReport(b);
    expect(page).toContain('<h2>Wall time</h2>');
    expect(page).toMatch(/colt<\/th><td>30 s<\/td><td>40 s<\/td><td>50 s<\/td><td>30 s<\/td><td>8 s<\/td><td>4%<\/td>/);
    expect(page).toMatch(/colt \/ evolutionary<\/th><td>3\.00×<\/td><td>2\.00×<\/td><td>–<\/td><td>3\.00×<\/td>/);
  });

  it('records how it was measured', () => {
    expect(html).toContain('Test CPU');
    expect(html).toContain('number 3, repeat 1, min_repeat_ms 40');
    expect(html).toContain('a note');
  });

  it('escapes what it quotes', () => {
    const b = bench();
    b.notes = ['<b>&'];
    expect(renderReport(b)).toContain('&lt;b&gt;&amp;');
  });
});

describe('targetLines', () => {
  it('gives a PASS or FAIL line per target, with its number', () => {
    const lines = targetLines(bench());
    expect(lines[0]).toBe('Targets for colt:');
    expect(lines.slice(1).every((l) => /^(PASS|FAIL) {2}\S.*: \S/.test(l))).toBe(true);
    // Budgets 2 and 4: no 32- or 64-trial ratio to judge.
    expect(lines[1]).toBe("FAIL  evolutionary / colt >= 1.3x at 32 trials (geomean), its interval's lower end above 1.0: not measured (no 32-trial budget)");
    expect(lines).toContain("PASS  evolutionary's 4-trial best reached within 16 trials (geomean): 2.0 trials (all 1 workloads reached it)");
  });
});

describe('renderCurvePlot', () => {
  it('says so when there is nothing to draw', () => {
    const svg = renderCurvePlot({ title: 't', xMax: 8, budgets: [8], series: [{ name: 'colt', color: '#000', median: [null], min: [null], max: [null] }] });
    expect(svg).toContain('no successful trial to plot');
  });
});

describe('logTicks', () => {
  it('gives a handful of round values inside the range', () => {
    for (const [lo, hi] of [[40, 300], [1, 1e5], [95, 105]]) {
      const ticks = logTicks(lo, hi);
      expect(ticks.length).toBeGreaterThanOrEqual(2);
      expect(ticks.length).toBeLessThanOrEqual(7);
    }
    expect(logTicks(40, 300)).toEqual([50, 70, 100, 150, 200, 300]);
  });
});

describe('parseBench', () => {
  it('accepts what the bench writes and names what is wrong with anything else', () => {
    expect(parseBench(JSON.parse(JSON.stringify(bench()))).runs).toHaveLength(2);
    expect(() => parseBench({ version: 1, runs: 'x' }, 'b.json')).toThrow(/^b\.json is not a colt bench result: /);
  });
});

describe('Progress', () => {
  it('writes a line per run start and end when stderr is not a terminal', () => {
    const lines: string[] = [];
    let t = 0;
    const p = new Progress({ write: (s) => lines.push(s), isTTY: false }, 2, 8, () => t);
    p.startRun('GMM:1 colt seed 0');
    p.update(4);
    t = 65;
    p.endRun('8 trials');
    expect(lines).toEqual(['bench: run 1/2: GMM:1 colt seed 0\n', 'bench: run 1/2: GMM:1 colt seed 0: 8 trials (1:05)\n']);
  });

  it('redraws one line in place on a terminal', () => {
    const out: string[] = [];
    let t = 0;
    const p = new Progress({ write: (s) => out.push(s), isTTY: true }, 2, 8, () => t);
    p.startRun('GMM:1 colt seed 0');
    t = 10;
    p.update(4);
    expect(out.at(-1)).toMatch(/^\r\x1b\[Kbench █+░+ run 1\/2 GMM:1 colt seed 0 trial 4\/8 · 0:10$/);
  });
});
