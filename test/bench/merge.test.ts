// The suite in parts: benches run one after another, merged into one bench.json; parts that
// cannot be compared (another machine, other settings) or that overlap are refused in one line.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { analyzeBench, mergeBenches, parseBench, writeBench, type BenchResult } from '../../src/bench';
import { ensureBuilt, runColt } from '../cli/colt-process';
import { benchOf, run } from './fixtures';

const BUDGETS = [2, 4];

function part(workload: string, seeds = [0, 1]): BenchResult {
  const runs = seeds.flatMap((seed) => [
    run(workload, 'colt', seed, [300, 100, 100, 90], { 2: 100, 4: 90 }, BUDGETS),
    run(workload, 'evolutionary', seed, [400, 200, 180, 150], { 2: 200, 4: 150 }, BUDGETS),
  ]);
  runs.forEach((r, i) => (r.order = i));
  const b = benchOf(runs, BUDGETS, ['colt', 'evolutionary'], [workload], 72);
  b.settings.seeds = seeds;
  b.command = `colt bench --workloads ${workload}`;
  return b;
}

describe('mergeBenches', () => {
  const out = '/benches/suite';

  it('makes one bench of two parts: every run once, in order, its work dir found from the merged dir', () => {
    const merged = mergeBenches(
      [
        { bench: part('GMM:1'), dir: '/benches/part-1' },
        { bench: part('C2D:0'), dir: '/benches/part-2' },
      ],
      out,
      'colt bench merge part-1 part-2 --out suite',
    );
    expect(parseBench(JSON.parse(JSON.stringify(merged)))).toEqual(merged);
    expect(merged.workloads.map((w) => w.spec)).toEqual(['GMM:1', 'C2D:0']);
    expect(merged.runs.map((r) => `${r.workload} ${r.strategy} ${r.seed} #${r.order}`)).toEqual([
      'GMM:1 colt 0 #0',
      'GMM:1 evolutionary 0 #1',
      'GMM:1 colt 1 #2',
      'GMM:1 evolutionary 1 #3',
      'C2D:0 colt 0 #4',
      'C2D:0 evolutionary 0 #5',
      'C2D:0 colt 1 #6',
      'C2D:0 evolutionary 1 #7',
    ]);
    expect(merged.runs[4].workDir).toBe('../part-2/runs/C2D:0/colt-s0');
    expect(merged.command).toBe('colt bench merge part-1 part-2 --out suite');
    expect(merged.notes[0]).toMatch(/^merged from 2 parts, run one after another: \/benches\/part-1 \(colt bench --workloads GMM:1\); /);
    // The merged bench is analysed as one: a geometric mean over both workloads, with its interval.
    expect(analyzeBench(merged).geomeanRatios.find((r) => r.budget === 4)).toMatchObject({ value: 150 / 90, interval: { workloads: 2 } });
  });

  it('takes parts split by seed, and joins their seeds', () => {
    const merged = mergeBenches(
      [
        { bench: part('GMM:1', [0, 1]), dir: '/benches/a' },
        { bench: part('GMM:1', [2]), dir: '/benches/b' },
      ],
      out,
      'merge',
    );
    expect(merged.settings.seeds).toEqual([0, 1, 2]);
    expect(merged.workloads).toHaveLength(1);
    expect(merged.runs).toHaveLength(6);
  });

  it('refuses a (workload, strategy, seed) found in two parts', () => {
    expect(() =>
      mergeBenches(
        [
          { bench: part('GMM:1', [0, 1]), dir: '/benches/a' },
          { bench: part('GMM:1', [1, 2]), dir: '/benches/b' },
        ],
        out,
        'merge',
      ),
    ).toThrow('cannot merge: GMM:1 colt seed 1 is in both /benches/a and /benches/b');
  });

  it('refuses parts of another machine, or run under other settings', () => {
    const other = part('C2D:0');
    other.machine.cpuModel = 'Other CPU';
    expect(() => mergeBenches([{ bench: part('GMM:1'), dir: '/a' }, { bench: other, dir: '/b' }], out, 'merge')).toThrow(
      'cannot merge /b with /a: a different machine (cpuModel "Test CPU" vs "Other CPU")',
    );
    const budgets = part('C2D:0');
    budgets.settings.budgets = [2, 4, 8];
    expect(() => mergeBenches([{ bench: part('GMM:1'), dir: '/a' }, { bench: budgets, dir: '/b' }], out, 'merge')).toThrow(
      'cannot merge /b with /a: different settings (budgets [2,4] vs [2,4,8])',
    );
    // COLT with a cost model trained beforehand is another COLT.
    const pretrained = part('C2D:0');
    pretrained.settings.costModelFile = '/models/suite.npz';
    expect(() => mergeBenches([{ bench: part('GMM:1'), dir: '/a' }, { bench: pretrained, dir: '/b' }], out, 'merge')).toThrow(
      'cannot merge /b with /a: different settings (costModelFile (none) vs "/models/suite.npz")',
    );
  });

  it('refuses a part that did not finish', () => {
    const cut = part('C2D:0');
    cut.status = 'interrupted';
    expect(() => mergeBenches([{ bench: part('GMM:1'), dir: '/a' }, { bench: cut, dir: '/b' }], out, 'merge')).toThrow(
      'cannot merge /b: that bench did not finish (interrupted); run that part again',
    );
  });
});

describe('colt bench merge', () => {
  let tmp: string;

  beforeAll(() => {
    ensureBuilt();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-merge-'));
    for (const [name, workload] of [['p1', 'GMM:1'], ['p2', 'C2D:0'], ['p3', 'GMM:1']] as const) {
      fs.mkdirSync(path.join(tmp, name));
      writeBench(path.join(tmp, name), part(workload));
    }
  }, 300_000);

  afterAll(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('writes the merged bench.json and report.html, and prints the summary', async () => {
    const done = await runColt(['bench', 'merge', 'p1', 'p2', '--out', 'suite'], { cwd: tmp });
    expect({ code: done.code, stderr: done.stderr }).toEqual({ code: 0, stderr: '' });
    expect(done.stdout).toMatch(/^evolutionary \/ colt @4 trials \(geometric mean\): 1\.67x \(90% interval 1\.67x-1\.67x\)$/m);
    expect(done.stdout).toContain(`Report: ${path.join(tmp, 'suite', 'report.html')}`);
    const merged = parseBench(JSON.parse(fs.readFileSync(path.join(tmp, 'suite', 'bench.json'), 'utf8')));
    expect(merged.runs).toHaveLength(8);
    expect(fs.readFileSync(path.join(tmp, 'suite', 'report.html'), 'utf8')).toContain('class="range interval"');
  }, 60_000);

  it('refuses overlapping parts in one line, exit 2', async () => {
    const done = await runColt(['bench', 'merge', 'p1', 'p3', '--out', 'bad'], { cwd: tmp });
    expect(done.code).toBe(2);
    expect(done.stderr.trim()).toBe(`colt: error: cannot merge: GMM:1 colt seed 0 is in both ${path.join(tmp, 'p1')} and ${path.join(tmp, 'p3')}`);
    expect(fs.existsSync(path.join(tmp, 'bad'))).toBe(false);
  }, 60_000);

  it('takes no bench flag but --out', async () => {
    const done = await runColt(['bench', 'merge', 'p1', 'p2', '--seeds', '3', '--out', 'x'], { cwd: tmp });
    expect(done.code).toBe(2);
    expect(done.stderr.trim()).toBe('colt: error: bench merge takes only --out (got --seeds)');
  }, 60_000);
});
