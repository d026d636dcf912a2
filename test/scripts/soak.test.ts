// scripts/soak, short: three runs of `colt tune`, each struck once (--victims: the whole process
// group with SIGKILL; the CLI stopped, then let go on; one of two RPC servers killed mid-run),
// then resumed where the strike left them short; then two daemon jobs at once. Nothing lost,
// nothing measured twice, TVM applies every database, each job holds its own records and no
// other's, no process left over.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ensureBuilt, REPO } from '../cli/colt-process';

let dir: string;
beforeAll(() => ensureBuilt());
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-soak-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Iteration {
  victim: string;
  signal: string | null;
  then?: string;
  runs: number;
  exit_code: number;
  records: number;
  lost: number;
  duplicates: number;
  orphans: number;
  tvm_applies: boolean;
}

interface DaemonJob {
  state: string;
  trials: number;
  records: number;
  duplicates: number;
  foreign: number;
  workloads: number;
  tvm_applies: boolean;
}

interface Soak {
  totals: { iterations: number; kills: number; survived: number; records_lost: number; duplicates: number; orphans: number; tvm_refused: number };
  iterations: Iteration[];
  daemon: { jobs: number; ok: number; records_lost: number; duplicates: number; foreign: number; orphans: number; per_job: DaemonJob[] };
}

it('survives three strikes and two concurrent daemon jobs with nothing lost, duplicated, mixed or left over', async () => {
  const out = path.join(dir, 'soak.json');
  const args = ['--iterations', '3', '--trials', '6', '--per-iter', '2', '--seed', '0', '--victims', 'group,cli:STOP:CONT,rpc-server:KILL'];
  const code = await new Promise<number | null>((resolve) => {
    const child = execFile(
      'python3',
      [path.join(REPO, 'scripts', 'soak'), ...args, '--max-hold', '3', '--daemon-jobs', '2', '--out', path.join(dir, 'runs'), '--json', out],
      { cwd: REPO },
    );
    child.on('exit', resolve);
  });
  const { totals, iterations, daemon } = JSON.parse(fs.readFileSync(out, 'utf8')) as Soak;
  expect(totals).toMatchObject({ iterations: 3, kills: 3, survived: 3, records_lost: 0, duplicates: 0, orphans: 0, tvm_refused: 0 });
  // Each strike landed on its victim, and each run ended as a user would want: exit 0, budget spent.
  expect(iterations.map((i) => [i.victim, i.signal])).toEqual([
    ['group', 'SIGKILL'],
    ['cli', 'SIGSTOP'],
    ['rpc-server', 'SIGKILL'],
  ]);
  for (const i of iterations) expect(i).toMatchObject({ exit_code: 0, records: 6, lost: 0, duplicates: 0, orphans: 0, tvm_applies: true });
  // The whole group gone: only a resume finishes it. A CLI let go on finishes by itself, and a run
  // that lost one of its two devices finishes on the other.
  expect(iterations[0].runs).toBeGreaterThan(1);
  expect(iterations[1]).toMatchObject({ then: 'SIGCONT', runs: 1 });
  expect(iterations[2].runs).toBe(1);

  expect(daemon).toMatchObject({ jobs: 2, ok: 2, records_lost: 0, duplicates: 0, foreign: 0, orphans: 0 });
  for (const job of daemon.per_job) {
    expect(job).toMatchObject({ state: 'SUCCEEDED', trials: 6, records: 6, duplicates: 0, foreign: 0, workloads: 1, tvm_applies: true });
  }
  expect(code).toBe(0);
}, 1_500_000);
