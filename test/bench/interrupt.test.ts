// Ctrl-C on `colt bench`: its runs lead their own process groups (out of the terminal's reach),
// so the bench passes the signal on, waits for the run in flight to go, and leaves nothing
// behind. The compiled CLI and a real `colt tune` child; interrupted as soon as the run starts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { parseBench } from '../../src/bench';
import { ensureBuilt, isAlive, startColt } from '../cli/colt-process';

let tmp: string;

beforeAll(() => {
  ensureBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-bench-int-'));
}, 300_000);

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

it('stops the run in flight with its process group on SIGINT, records it, and exits 130', async () => {
  const out = path.join(tmp, 'bench');
  const lock = path.join(out, 'runs', 'gmm_0', 'colt-s0', 'colt.lock');
  const bench = startColt(['bench', '--workloads', 'GMM:0', '--strategies', 'colt', '--budgets', '8', '--seeds', '1', '--out', out]);
  // The run's child has started once its work dir holds the lock it took (with its pid).
  const childPid = await new Promise<number>((resolve, reject) => {
    const watcher = setInterval(() => {
      if (bench.child.exitCode !== null) {
        clearInterval(watcher);
        reject(new Error('the bench ended before its run started'));
      }
      try {
        const pid = (JSON.parse(fs.readFileSync(lock, 'utf8')) as { pid: number }).pid;
        clearInterval(watcher);
        resolve(pid);
      } catch {
        // Not there yet.
      }
    }, 50);
  });
  bench.child.kill('SIGINT');
  const done = await bench.done;
  expect(done.code).toBe(130);
  expect(done.stderr).toMatch(/^colt: error: interrupted \(SIGINT\): the runs done so far are in .*bench\.json and its report$/m);
  expect(isAlive(childPid)).toBe(false);
  expect(() => process.kill(-childPid, 0)).toThrow();
  const result = parseBench(JSON.parse(fs.readFileSync(path.join(out, 'bench.json'), 'utf8')));
  expect(result.status).toBe('interrupted');
  expect(result.runs[0]).toMatchObject({ status: 'failed', error: 'interrupted (SIGINT)' });
}, 300_000);
