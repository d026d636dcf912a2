// `colt tune --resume` after `kill -9` of colt, and `--tuning-records`: the compiled CLI, the
// real bridge, real builds and runs; plain Python with the stock TVM wheel audits the database.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ensureBuilt, isAlive, runColt, runPython, startColt, type Finished } from './colt-process';

/** Every record's schedule, replayed: its structural hash, its trace, whether it failed. */
const AUDIT = `
import json, sys
import tvm
from tvm.s_tir import Schedule
from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.meta_schedule.testing import te_workload
from tvm.s_tir.meta_schedule.utils import shash2hex

db = ms.database.JSONDatabase(work_dir=sys.argv[1])
mod = tvm.IRModule({"main": te_workload.create_te_workload("GMM", 0)})
out = []
for r in db.get_all_tuning_records():
    sch = Schedule(mod)
    r.trace.apply_to_schedule(sch, remove_postproc=False)
    out.append({"shash": shash2hex(sch.mod), "trace": str(r.trace), "failed": min(float(s) for s in r.run_secs) >= 1e9})
print(json.dumps(out))
`;

interface Audit {
  shash: string;
  trace: string;
  failed: boolean;
}

function recordLines(workDir: string): string[] {
  const file = path.join(workDir, 'database_tuning_record.json');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

function stderrLines(run: Finished): string[] {
  return run.stderr.split('\n').filter((l) => l.trim() !== '');
}

async function waitGone(pid: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (isAlive(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
}

let tmp: string;

beforeAll(() => {
  ensureBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-resume-'));
}, 180_000);

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const TUNE = ['tune', '--workload', 'GMM:0', '--trials', '32', '--per-iter', '8', '--no-llm', '--json'];

describe('colt tune --resume after kill -9', () => {
  const workDir = (): string => path.join(tmp, 'killed');

  it('reaches the budget with every trial recorded once, none lost, nothing measured twice', async () => {
    const colt = startColt([...TUNE, '--work-dir', workDir()]);
    // A moment after the first batch landed: mid-expansion, mid-batch or mid-commit.
    const delayMs = Math.floor(Math.random() * 2500);
    let bridgePid: number | undefined;
    colt.onLine((line) => {
      if (bridgePid !== undefined || !line.startsWith('{') || (JSON.parse(line) as { type: string }).type !== 'measure') return;
      const pgrep = execFileSync('pgrep', ['-P', String(colt.child.pid), '-f', 'colt_bridge'], { encoding: 'utf8' });
      bridgePid = Number(pgrep.trim().split('\n')[0]);
      setTimeout(() => colt.child.kill('SIGKILL'), delayMs);
    });
    const killed = await colt.done;
    expect(bridgePid).toBeGreaterThan(0);
    // The orphaned bridge notices and leaves; the resumed run must not race it for the database.
    await waitGone(bridgePid as number, 20_000);
    expect(isAlive(bridgePid as number)).toBe(false);
    const before = recordLines(workDir());
    // At least the first batch, half of --per-iter.
    expect(before.length).toBeGreaterThanOrEqual(4);
    if (killed.signal !== 'SIGKILL') console.warn(`colt finished before the kill (${delayMs} ms late)`);

    const run = await runColt([...TUNE, '--work-dir', workDir(), '--resume']);
    expect(stderrLines(run)).toEqual([]);
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; [k: string]: unknown });
    expect(lines.find((l) => l.type === 'start')).toMatchObject({ resumed: { trialsUsed: before.length } });
    expect(lines.at(-1)).toMatchObject({ type: 'summary', trials: 32, stopReason: 'trials' });

    const after = recordLines(workDir());
    expect(after).toHaveLength(32);
    // Append-only: what was there before the resume is still there, unchanged.
    expect(after.slice(0, before.length)).toEqual(before);
    const audit = runPython<Audit[]>(AUDIT, [workDir()]);
    expect(audit).toHaveLength(32);
    expect(new Set(audit.map((a) => a.shash)).size).toBe(32);
    expect(new Set(audit.map((a) => a.trace)).size).toBe(32);
  }, 900_000);

  it('refuses to resume the run with another target: one line, exit 2', async () => {
    const run = await runColt([...TUNE, '--work-dir', workDir(), '--resume', '--target', '{"kind":"llvm","num-cores":1}']);
    expect(run.code).toBe(2);
    const lines = stderrLines(run);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^colt: error: --resume: .* holds a run of GMM:0 on \{"kind":"llvm","num-cores":\d+\}, not GMM:0 on \{"kind":"llvm","num-cores":1\}/);
    expect(recordLines(workDir())).toHaveLength(32);
  }, 120_000);

  it('warm-starts a new run from that database with --tuning-records', async () => {
    const fresh = path.join(tmp, 'warm');
    const run = await runColt(['tune', '--workload', 'GMM:0', '--trials', '8', '--per-iter', '8', '--no-llm', '--json', '--work-dir', fresh, '--tuning-records', workDir()]);
    expect(stderrLines(run)).toEqual([]);
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; [k: string]: unknown });
    expect(lines.find((l) => l.type === 'population')).toMatchObject({ refill: false, seeded: 4 });
    expect(recordLines(fresh)).toHaveLength(8);
    expect(recordLines(workDir())).toHaveLength(32);
  }, 600_000);
});
