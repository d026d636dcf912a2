// The report page from a bench result in memory: plots, tables, settings; nothing fetched.
import { logTicks, parseBench, Progress, renderCurvePlot, renderReport } from '../../src/bench';
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
