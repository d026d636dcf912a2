// `colt tune` end to end: the compiled CLI, the real bridge, real TVM builds. The database it
// writes is checked by a separate, plain Python process with the stock TVM wheel.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ensureBuilt, runColt, runPython, startColt, type Finished } from './colt-process';

const DB_FILES = ['database_workload.json', 'database_tuning_record.json'];

let tmp: string;

beforeAll(() => {
  ensureBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-tune-'));
}, 180_000);

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Applies the best record with compile_tir, checks it against numpy and against the database's top record. */
const APPLY_BEST = `
import json, sys
import numpy as np
import tvm
import tvm_ffi
from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.meta_schedule.testing import te_workload

work_dir = sys.argv[1]
f = te_workload.create_te_workload("GMM", 0)
mod = tvm.IRModule({"main": f})
# The target the run compiled for (with this CPU's mcpu), as its summary names it.
with open(f"{work_dir}/colt-summary.json") as summary:
    target = tvm.target.Target(json.load(summary)["target"])
db = ms.database.JSONDatabase(work_dir=work_dir)
sch = ms.tir_integration.compile_tir(db, mod, target)
if sch is None:
    print(json.dumps({"error": "compile_tir found no record"}))
    sys.exit(0)
lib = tvm.compile(sch.mod, target=target).mod
dev = tvm.cpu(0)
rng = np.random.default_rng(0)
arrays = [rng.uniform(-1, 1, [int(d) for d in a.shape]).astype(str(a.dtype))
          for a in ms.arg_info.ArgInfo.from_prim_func(f)]
nd = [tvm.runtime.tensor(a, dev) for a in arrays]
lib(*nd)
expected = np.matmul(arrays[0], arrays[1])
ok = bool(np.allclose(nd[-1].numpy(), expected, rtol=1e-4, atol=1e-4))
# What compile_tir applied is the database's fastest record, rebuilt from its trace.
top = db.get_top_k(db.commit_workload(mod), 1)[0]
again = tvm.s_tir.Schedule(mod)
top.trace.apply_to_schedule(again, remove_postproc=False)
same = bool(tvm_ffi.structural_equal(sch.mod, again.mod))
top_us = float(np.mean([float(x) for x in top.run_secs])) * 1e6
print(json.dumps({"matches_numpy": ok, "top_record": same, "top_us": top_us, "scheduled": sch.trace is not None}))
`;

const HOST_CPU = `
import json
from tvm.target import codegen
print(json.dumps(str(codegen.llvm_get_system_cpu())))
`;

const COUNT_RECORDS = `
import json, sys
from tvm.s_tir import meta_schedule as ms
db = ms.database.JSONDatabase(work_dir=sys.argv[1])
print(json.dumps({"records": len(db.get_all_tuning_records())}))
`;

function stderrLines(run: Finished): string[] {
  return run.stderr.split('\n').filter((l) => l.trim() !== '');
}

function expectOneErrorLine(run: Finished, problem: RegExp): void {
  const lines = stderrLines(run);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^colt: error: /);
  expect(lines[0]).toMatch(problem);
  expect(run.stderr).not.toMatch(/^\s+at /m);
}

function expectNoDatabase(dir: string): void {
  for (const f of DB_FILES) expect(fs.existsSync(path.join(dir, f))).toBe(false);
}

describe('colt tune GMM:0', () => {
  it('tunes, prints the table, writes the summary, and leaves a database stock TVM applies', async () => {
    const workDir = path.join(tmp, 'gmm');
    const run = await runColt(['tune', '--workload', 'GMM:0', '--trials', '32', '--per-iter', '16', '--work-dir', workDir, '--no-llm']);
    expect(stderrLines(run)).toEqual([]);
    expect(run.code).toBe(0);

    // MetaSchedule's table, once per batch (8, 16 and 8 trials: the first is half) and once at the end.
    expect(run.stdout).toContain(' ID |  Name |    FLOP | Weight | Speed (GFLOPS) | Latency (us) | Weighted Latency (us) | Trials | Done ');
    expect(run.stdout).toMatch(/^ {2}0 \| gmm_0 \| 4194304 \| {6}1 \| +\d+\.\d{4} \| +\d+\.\d{4} \| +\d+\.\d{4} \| +32 \| {4}Y $/m);
    expect(run.stdout.match(/^Total trials: /gm)).toHaveLength(4);
    expect(run.stdout).toMatch(/^Total trials: 32$/m);
    expect(run.stdout).toMatch(/^Best: [\d.]+ us \([\d.]+ GFLOPS\), [\d.]+x faster than the untuned build \([\d.]+ us\)\. Proposer: built-in \(no LLM configured\)\.$/m);

    // No --target: this CPU, with LLVM's name for it as mcpu, said before the first table.
    const hostCpu = runPython<string>(HOST_CPU, []);
    expect(hostCpu).toMatch(/^[a-z0-9_-]+$/);
    expect(run.stdout).toContain(`Target: llvm, mcpu ${hostCpu}, ${os.availableParallelism()} cores.`);
    const summary = JSON.parse(fs.readFileSync(path.join(workDir, 'colt-summary.json'), 'utf8'));
    expect(summary).toMatchObject({
      workload: 'GMM:0',
      target: { kind: 'llvm', 'num-cores': os.availableParallelism(), mcpu: hostCpu },
      trials: 32,
      maxTrials: 32,
      flop: 4194304,
      stopReason: 'trials',
      workDir,
    });
    for (const key of ['bestLatencyUs', 'gflops', 'untunedLatencyUs', 'speedupOverUntuned']) {
      expect(summary[key]).toBeGreaterThan(0);
    }
    for (const key of ['search', 'predict', 'buildMeasure', 'startup', 'total']) {
      expect(summary.wallSeconds[key]).toBeGreaterThanOrEqual(0);
    }
    expect(summary.wallSeconds.buildMeasure).toBeGreaterThan(0);
    expect(summary.gflops).toBeCloseTo(4194304 / (summary.bestLatencyUs * 1e-6) / 1e9, 6);
    expect(summary.bestLatencyUs).toBeLessThan(summary.untunedLatencyUs);
    expect(Number.isNaN(Date.parse(summary.measuredAt))).toBe(false);
    expect(fs.readdirSync(workDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    const applied = runPython<{ matches_numpy: boolean; top_record: boolean; top_us: number; error?: string }>(APPLY_BEST, [workDir]);
    expect(applied.error).toBeUndefined();
    expect(applied.matches_numpy).toBe(true);
    // Stock TVM applies the fastest record, and it is the one the summary reports (no timing
    // compared: the machine is shared, and a second timing of one kernel can differ by half).
    expect(applied.top_record).toBe(true);
    expect(applied.top_us).toBeCloseTo(summary.bestLatencyUs, 3);
  }, 400_000);
});

describe('colt tune with bad input', () => {
  const workDirFor = (name: string): string => path.join(tmp, `bad-${name}`);
  const brokenScript = (): string => {
    const file = path.join(tmp, 'broken.py');
    fs.writeFileSync(file, '@T.prim_func\ndef main(A: T.Buffer((4,), "float32"):\n    A[0] = = 1\n');
    return file;
  };
  const underAFile = (): string => {
    const file = path.join(tmp, 'plain-file');
    fs.writeFileSync(file, 'not a directory\n');
    return path.join(file, 'wd');
  };

  // [name, flags, work dir, what the one line must name]
  const cases: Array<[string, () => string[], () => string, RegExp]> = [
    ['unknown workload', () => ['--workload', 'NOPE:1'], () => workDirFor('nope'), /unknown workload 'NOPE'/],
    ['TVMScript syntax error', () => ['--workload', brokenScript()], () => workDirFor('syntax'), /broken\.py: not valid TVMScript/],
    ['malformed target JSON', () => ['--workload', 'GMM:0', '--target', '{"kind":'], () => workDirFor('target'), /--target: not valid JSON/],
    ['--trials 0', () => ['--workload', 'GMM:0', '--trials', '0'], () => workDirFor('trials'), /--trials: must be an integer >= 1/],
    ['unwritable work dir', () => ['--workload', 'GMM:0'], underAFile, /work dir .*plain-file\/wd is not writable/],
    // Where no directory can be made at all: Node's own recursive mkdir loops there for ever.
    ['work dir under /proc', () => ['--workload', 'GMM:0'], () => '/proc/colt-test/wd', /work dir \/proc\/colt-test\/wd is not writable: a directory cannot be made there/],
  ];

  it.each(cases)('%s: exit 2, one line naming the problem, no database', async (_name, flags, dir, problem) => {
    const workDir = dir();
    const run = await runColt(['tune', '--trials', '4', ...flags(), '--work-dir', workDir]);
    expect(run.code).toBe(2);
    expectOneErrorLine(run, problem);
    expect(run.stdout).toBe('');
    expectNoDatabase(workDir);
  }, 120_000);
});

/** Kills the bridge (the colt child running colt_bridge) each time a batch has landed, up to `times`. */
function killBridgeAfterBatches(colt: ReturnType<typeof startColt>, times: number): number[] {
  const killed: number[] = [];
  colt.onLine((line) => {
    if (killed.length >= times || !line.startsWith('{')) return;
    if ((JSON.parse(line) as { type: string }).type !== 'measure') return;
    const pgrep = execFileSync('pgrep', ['-P', String(colt.child.pid), '-f', 'colt_bridge'], { encoding: 'utf8' });
    const pid = Number(pgrep.trim().split('\n')[0]);
    killed.push(pid);
    process.kill(pid, 'SIGKILL');
  });
  return killed;
}

describe('colt tune when the bridge dies', () => {
  it('starts it again and completes the run from the last checkpoint, every trial recorded once', async () => {
    const workDir = path.join(tmp, 'killed');
    const colt = startColt(['tune', '--workload', 'GMM:0', '--trials', '24', '--per-iter', '8', '--no-llm', '--work-dir', workDir, '--json']);
    const killed = killBridgeAfterBatches(colt, 1);
    const run = await colt.done;
    expect(killed).toHaveLength(1);
    expect(run.code).toBe(0);
    // One warning says what happened; no error.
    expect(stderrLines(run)).toEqual([
      'warn: the TVM bridge stopped during tuning (killed by SIGKILL): starting it again (1 of 2) to carry on from the last checkpoint',
    ]);
    const lines = run.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; [k: string]: unknown });
    expect(lines.filter((l) => l.type === 'start')).toHaveLength(2);
    expect(lines.at(-1)).toMatchObject({ type: 'summary', trials: 24, stopReason: 'trials', bridgeRestarts: 1 });
    const { records } = runPython<{ records: number }>(COUNT_RECORDS, [workDir]);
    expect(records).toBe(24);
  }, 400_000);

  it('gives up when it keeps dying: one line, exit 3, and the records already written load in TVM', async () => {
    const workDir = path.join(tmp, 'killed-for-good');
    const colt = startColt([
      'tune', '--workload', 'GMM:0', '--trials', '64', '--per-iter', '8', '--no-llm', '--work-dir', workDir, '--json', '--max-bridge-restarts', '0',
    ]);
    const killed = killBridgeAfterBatches(colt, 1);
    const run = await colt.done;
    expect(killed).toHaveLength(1);
    expect(run.code).toBe(3);
    expectOneErrorLine(run, /the TVM bridge stopped during tuning \(killed by SIGKILL\); records already measured are in .* \(--resume carries on\)$/);
    // Every stdout line is still JSON, and no summary claims a finished run.
    for (const line of run.stdout.split('\n').filter(Boolean)) expect(() => JSON.parse(line)).not.toThrow();
    expect(run.stdout).not.toContain('"type":"summary"');

    const { records } = runPython<{ records: number }>(COUNT_RECORDS, [workDir]);
    expect(records).toBeGreaterThanOrEqual(1);
  }, 300_000);
});

describe('colt tune on SIGINT', () => {
  it('finishes the batch in flight, writes the summary, stops the bridge and exits 130', async () => {
    const workDir = path.join(tmp, 'interrupted');
    const colt = startColt(['tune', '--workload', 'GMM:0', '--trials', '64', '--per-iter', '8', '--work-dir', workDir, '--json', '--no-llm']);
    let bridgePid: number | undefined;
    colt.onLine((line) => {
      if (bridgePid !== undefined || !line.startsWith('{')) return;
      if ((JSON.parse(line) as { type: string }).type !== 'measure') return;
      const pgrep = execFileSync('pgrep', ['-P', String(colt.child.pid), '-f', 'colt_bridge'], { encoding: 'utf8' });
      bridgePid = Number(pgrep.trim().split('\n')[0]);
      colt.child.kill('SIGINT');
    });
    const run = await colt.done;
    expect(run.code).toBe(130);
    expect(run.stderr).not.toContain('colt: error:');

    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; trials?: number });
    const summary = lines.at(-1)!;
    expect(summary).toMatchObject({ type: 'summary', stopReason: 'cancelled' });
    // At least the first batch, half of --per-iter.
    expect(summary.trials).toBeGreaterThanOrEqual(4);
    expect(summary.trials).toBeLessThan(64);
    expect(JSON.parse(fs.readFileSync(path.join(workDir, 'colt-summary.json'), 'utf8'))).toMatchObject({
      stopReason: 'cancelled',
      trials: summary.trials,
    });
    expect(() => process.kill(bridgePid!, 0)).toThrow();
  }, 300_000);
});
