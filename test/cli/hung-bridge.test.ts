// A bridge that stops answering (kill -STOP) mid-run: the health watch finds it, kills it, and
// the run starts a new bridge and carries on to its whole budget.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { bridgeOf, ensureBuilt, startColt } from './colt-process';

let dir: string;
let stopped: number | undefined;
beforeAll(() => ensureBuilt());
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-hung-'));
});
afterEach(() => {
  if (stopped) {
    try {
      process.kill(-stopped, 'SIGKILL');
    } catch {
      // Gone, as it should be.
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

it('restarts a bridge stopped with SIGSTOP and completes every trial', async () => {
  const workDir = path.join(dir, 'run');
  const run = startColt(['tune', '--workload', 'GMM:0', '--trials', '12', '--per-iter', '4', '--no-llm', '--json', '--work-dir', workDir]);
  run.onLine((line) => {
    // Stopped once its first batch is in: the next is being built and measured.
    if (stopped === undefined && /"type":"measure"/.test(line)) {
      stopped = bridgeOf(run.child.pid as number);
      if (stopped) process.kill(stopped, 'SIGSTOP');
    }
  });
  const finished = await run.done;
  expect(stopped).toBeDefined();
  expect(finished.stderr).toMatch(/the TVM bridge \(pid \d+\) is not answering \(3 health checks in a row\): killing it to start it again/);
  expect(finished.stderr).toMatch(/starting it again \(1 of \d+\) to carry on from the last checkpoint/);
  expect(finished.code).toBe(0);
  const summary = JSON.parse(fs.readFileSync(path.join(workDir, 'colt-summary.json'), 'utf8')) as { trials: number; bridgeRestarts: number };
  expect(summary).toMatchObject({ trials: 12, bridgeRestarts: 1 });
  const records = fs.readFileSync(path.join(workDir, 'database_tuning_record.json'), 'utf8').split('\n').filter((l) => l.trim());
  expect(records).toHaveLength(12);
}, 900_000);
