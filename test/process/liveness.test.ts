// A process is its pid and its start time: a pid handed to another process is not the one we meant.
import { spawn } from 'node:child_process';

import { identify, processStartTime, sameProcess } from '../../src/process/liveness';

describe('sameProcess', () => {
  it('knows this process, and not a process started at another time under its pid', () => {
    const me = identify(process.pid);
    expect(me.startTime).toMatch(/^\d+$/);
    expect(sameProcess(me.pid, me.startTime)).toBe(true);
    // What a reused pid looks like: the pid answers, the start time is not the one recorded.
    expect(sameProcess(me.pid, String(Number(me.startTime) + 1))).toBe(false);
  });

  it("counts a process it did not start (EPERM for another user's) only when the start time is the one recorded", () => {
    const init = processStartTime(1);
    expect(init).toMatch(/^\d+$/);
    expect(sameProcess(1, init)).toBe(true);
    expect(sameProcess(1, String(Number(init) + 1))).toBe(false);
  });

  it('says a process that exited is gone', async () => {
    const child = spawn(process.execPath, ['-e', 'process.stdin.resume()'], { stdio: ['pipe', 'ignore', 'ignore'] });
    const pid = child.pid as number;
    const { startTime } = identify(pid);
    expect(sameProcess(pid, startTime)).toBe(true);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.stdin?.end();
    child.kill('SIGKILL');
    await exited;
    expect(sameProcess(pid, startTime)).toBe(false);
    expect(sameProcess(0, '')).toBe(false);
    expect(sameProcess(-1, '')).toBe(false);
  });
});
