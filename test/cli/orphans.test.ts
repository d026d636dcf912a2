// kill -9 of `colt tune` mid-run: the bridge sees its parent gone, kills and reaps its build and
// run workers and removes its temp root; nothing of its process group, and no temp dir, is left.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { bridgeOf, ensureBuilt, startColt, userEnv } from './colt-process';

let dir: string;
beforeAll(() => ensureBuilt());
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-orphans-'));
  fs.mkdirSync(path.join(dir, 'tmp'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

it('leaves no worker and no temp dir after kill -9 of the CLI mid-batch', async () => {
  // TMPDIR: where this run's bridge makes its temp root, apart from other runs'.
  const tmp = path.join(dir, 'tmp');
  const run = startColt(['tune', '--workload', 'GMM:0', '--trials', '64', '--per-iter', '4', '--no-llm', '--json', '--work-dir', path.join(dir, 'run')], {
    env: userEnv({ TMPDIR: tmp }),
  });
  // The first batch measured: the next is being built and run now.
  const bridge = await new Promise<number | undefined>((resolve, reject) => {
    run.onLine((line) => {
      if (/"type":"measure"/.test(line)) resolve(bridgeOf(run.child.pid as number));
    });
    void run.done.then((f) => reject(new Error(`colt tune ended (${f.code}) before its first batch: ${f.stderr}`)));
  });
  expect(bridge).toBeDefined();
  const pgid = bridge as number;
  expect(fs.readdirSync(tmp).filter((f) => f.startsWith('colt-bridge-'))).toHaveLength(1);
  run.child.kill('SIGKILL');
  await run.done;

  // Until the bridge's whole group is gone; the limit only catches a hang.
  const until = Date.now() + 180_000;
  while (groupAlive(pgid) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 100));
  expect(groupAlive(pgid)).toBe(false);
  expect(fs.readdirSync(tmp)).toEqual([]);
}, 600_000);
