// `colt bench` end to end on a tiny bench: the compiled CLI, COLT's own `colt tune` and stock
// ms.tune_tir as child processes, real builds and measurements on this CPU; then `colt report`,
// and the page opened in headless Chromium to check that its plots really draw.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { parseBench, type BenchResult } from '../../src/bench';
import { ensureBuilt, runColt, type Finished } from '../cli/colt-process';

const CHROMIUM = '/usr/bin/chromium';

let tmp: string;
let out: string;
let run: Finished;
let result: BenchResult;

beforeAll(async () => {
  ensureBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-bench-'));
  out = path.join(tmp, 'bench');
  // One workload, two strategies, one seed: each run spends 8 trials, in one batch.
  run = await runColt([
    'bench', '--workloads', 'GMM:0', '--strategies', 'colt,evolutionary', '--budgets', '4,8', '--seeds', '1',
    '--per-iter', '8', '--out', out,
  ]);
  if (run.code === 0) result = parseBench(JSON.parse(fs.readFileSync(path.join(out, 'bench.json'), 'utf8')));
}, 900_000);

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('colt bench (GMM:0, colt vs evolutionary, 8 trials, 1 seed)', () => {
  it('runs to completion, shows its progress on stderr and the ratios on stdout', () => {
    expect({ code: run.code, stderr: run.code === 0 ? '' : run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.stderr).toMatch(/^bench: run 1\/2: GMM:0 colt seed 0$/m);
    expect(run.stderr).toMatch(/^bench: run 2\/2: GMM:0 evolutionary seed 0: 8 trials, best [\d.]+ us/m);
    expect(run.stdout).toMatch(/^evolutionary \/ colt @8 trials \(geometric mean\): [\d.]+x \(90% interval [\d.]+x-[\d.]+x\)$/m);
    expect(run.stdout).toContain(`Report: ${path.join(out, 'report.html')}`);
  });

  it('holds one curve per (workload, strategy, seed): 8 trials, best latency never increasing', () => {
    expect(result.runs.map((r) => [r.workload, r.strategy, r.seed, r.status])).toEqual([
      ['GMM:0', 'colt', 0, 'ok'],
      ['GMM:0', 'evolutionary', 0, 'ok'],
    ]);
    for (const r of result.runs) {
      expect(r.trials).toBe(8);
      expect(r.curveUs).toHaveLength(8);
      const values = r.curveUs.filter((v): v is number => v !== null);
      expect(values.length).toBeGreaterThan(0);
      for (let i = 1; i < r.curveUs.length; i++) {
        if (r.curveUs[i - 1] !== null) expect(r.curveUs[i]).toBeLessThanOrEqual(r.curveUs[i - 1] as number);
      }
      expect(fs.existsSync(path.join(out, r.workDir, 'database_tuning_record.json'))).toBe(true);
      // When each trial appeared, on the bench's own clock: never decreasing, within the run.
      expect(r.recordSeenSec).toHaveLength(8);
      const seen = r.recordSeenSec!;
      for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]);
      expect(r.wallSeconds.firstRecord).toBe(seen[0]);
      expect(seen[7]).toBeLessThanOrEqual(r.wallSeconds.process + 0.01);
    }
    expect(result.settings.runTimeoutSec).toBe(900 + 8 * (2 * 30 + 30));
  });

  it('re-measures each run\'s best schedule beside numpy, and records how', () => {
    for (const r of result.runs) {
      expect(r.atBudget['8'].remeasured).toMatchObject({ correct: true, minUs: expect.any(Number), samples: 240 });
    }
    expect(result.workloads[0]).toMatchObject({ task: 'gmm_0', flop: 2 * 128 * 128 * 128, matmulLike: true, blas: { minUs: expect.any(Number) } });
    expect(result.settings).toMatchObject({
      numCores: expect.any(Number),
      measure: { number: 3, repeat: 1, minRepeatMs: 40, timeoutSec: 30 },
      env: { TVM_NUM_THREADS: String(result.settings.numCores), OPENBLAS_NUM_THREADS: String(result.settings.numCores) },
    });
    expect(result.machine).toMatchObject({ tvm: '0.27.0.post1', cpuModel: expect.any(String) });
    // Fair BLAS: the re-measurement records which OpenBLAS kernel numpy ran, without the variables that pin one.
    expect(result.settings.blasRuntime).toEqual([expect.objectContaining({ internal_api: 'openblas', architecture: expect.any(String) })]);
    expect(result.settings.remeasureEnv).toMatchObject({ OPENBLAS_CORETYPE: null, OPENBLAS_L2_SIZE: null });
    expect(result.notes.join('\n')).toMatch(/numpy's OpenBLAS in the re-measurement: openblas [\d.]+, kernel \w+, \d+ threads/);
    expect(result.status).toBe('done');
  });

  it('`colt report DIR` renders report.html again from bench.json', async () => {
    const page = path.join(out, 'report.html');
    fs.rmSync(page);
    const again = await runColt(['report', out]);
    expect(again.code).toBe(0);
    expect(again.stdout.trim()).toBe(`Report: ${page}`);
    expect(fs.readFileSync(page, 'utf8')).toContain('<svg');
  });

  it('`colt report` on a dir with no bench says so in one line', async () => {
    const dir = path.join(tmp, 'nothing-here');
    const missing = await runColt(['report', dir]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe(`colt: error: ${dir}: no such directory (run \`colt bench --out ${dir}\` first)`);
    fs.mkdirSync(dir);
    const empty = await runColt(['report', dir]);
    expect(empty.code).toBe(2);
    expect(empty.stderr.trim()).toBe(`colt: error: cannot read ${dir}/bench.json: no such file (run \`colt bench\` first)`);
  });

  const chromium = fs.existsSync(CHROMIUM) ? it : it.skip;
  chromium(
    `draws its plots in a real browser (headless Chromium; skipped when ${CHROMIUM} is missing: apt-get install chromium)`,
    () => {
      // A harness page beside the report loads it in a frame and reports, from the browser's own
      // layout, each plot's size and each curve's drawn length; --dump-dom gives us the answer.
      const harness = path.join(out, 'harness.html');
      fs.writeFileSync(
        harness,
        `<!doctype html><html><body><iframe id="r" src="report.html" width="1100" height="2400"></iframe><pre id="out">pending</pre>
<script>
document.getElementById('r').addEventListener('load', () => {
  const doc = document.getElementById('r').contentDocument;
  const plots = [...doc.querySelectorAll('svg.plot')].map((svg) => ({
    width: svg.getBoundingClientRect().width,
    height: svg.getBoundingClientRect().height,
    curves: [...svg.querySelectorAll('path.median')].map((p) => ({
      strategy: p.closest('g.series').getAttribute('data-strategy'),
      length: p.getTotalLength(),
      points: (p.getAttribute('d').match(/[MHV]/g) || []).length,
    })),
  }));
  document.getElementById('out').textContent = JSON.stringify(plots);
});
</script></body></html>`,
      );
      const profile = fs.mkdtempSync(path.join(tmp, 'chromium-'));
      const dom = execFileSync(
        CHROMIUM,
        [
          '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
          '--disable-sync', '--no-first-run', `--user-data-dir=${profile}`, '--allow-file-access-from-files',
          '--virtual-time-budget=10000', '--dump-dom', `file://${harness}`,
        ],
        { encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'ignore'] },
      );
      const answer = /<pre id="out">([^<]*)<\/pre>/.exec(dom)?.[1] ?? 'missing';
      const plots = JSON.parse(answer.replace(/&quot;/g, '"').replace(/&amp;/g, '&')) as Array<{
        width: number;
        height: number;
        curves: Array<{ strategy: string; length: number; points: number }>;
      }>;
      expect(plots).toHaveLength(1);
      expect(plots[0].width).toBeGreaterThan(200);
      expect(plots[0].height).toBeGreaterThan(100);
      expect(plots[0].curves.map((c) => c.strategy).sort()).toEqual(['colt', 'evolutionary']);
      for (const c of plots[0].curves) {
        expect(c.points).toBeGreaterThanOrEqual(2);
        expect(c.length).toBeGreaterThan(50);
      }
    },
    180_000,
  );
});
