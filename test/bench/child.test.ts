// Bench children with real processes: each leads its own process group, which goes with it when
// it runs past its timeout, when it exits leaving workers behind, and when the bench stops.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { liveChildren, runChild, stopAllChildren } from '../../src/bench/child';
import { isAlive as alive } from '../cli/colt-process';

let tmp: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-child-'));
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A shell that starts a worker ignoring SIGTERM (as a busy build worker may), says so on stderr, and waits forever. */
function stubbornScript(pidFile: string): string[] {
  return ['-c', `trap '' TERM; sleep 100000 & echo $! > ${pidFile}; echo started >&2; wait; wait`];
}

describe('runChild', () => {
  it('kills a child that outlives its timeout, with its whole group, and only then answers', async () => {
    const pidFile = path.join(tmp, 'timeout.pid');
    const lines: string[] = [];
    // The worker ignores SIGTERM: only the SIGKILL after the grace takes it.
    const result = await runChild('bash', stubbornScript(pidFile), {
      cwd: tmp,
      env: process.env,
      timeoutMs: 5_000,
      killGraceMs: 200,
      onStderrLine: (l) => lines.push(l),
    });
    expect(lines).toEqual(['started']);
    expect(result.timedOut).toBe(true);
    expect(result.signal).toBe('SIGKILL');
    const worker = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(alive(worker)).toBe(false);
    expect(() => process.kill(-(result.pid as number), 0)).toThrow();
    expect(liveChildren()).toBe(0);
  }, 60_000);

  it('kills the workers a child leaves behind when it exits', async () => {
    const pidFile = path.join(tmp, 'orphan.pid');
    const result = await runChild('bash', ['-c', `sleep 100000 & echo $! > ${pidFile}; exit 3`], { cwd: tmp, env: process.env });
    expect(result).toMatchObject({ code: 3, timedOut: false });
    expect(alive(Number(fs.readFileSync(pidFile, 'utf8')))).toBe(false);
  }, 60_000);

  it('stops every running child group when the bench stops, and waits until they are gone', async () => {
    const pidFiles = [path.join(tmp, 'a.pid'), path.join(tmp, 'b.pid')];
    let started = 0;
    let bothStarted: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (bothStarted = resolve));
    const runs = pidFiles.map((f) =>
      runChild('bash', ['-c', `sleep 100000 & echo $! > ${f}; echo started >&2; wait`], {
        cwd: tmp,
        env: process.env,
        onStderrLine: () => {
          if (++started === 2) bothStarted();
        },
      }),
    );
    await ready;
    expect(liveChildren()).toBe(2);
    await stopAllChildren();
    expect(liveChildren()).toBe(0);
    const results = await Promise.all(runs);
    expect(results.map((r) => r.signal)).toEqual(['SIGTERM', 'SIGTERM']);
    for (const f of pidFiles) expect(alive(Number(fs.readFileSync(f, 'utf8')))).toBe(false);
  }, 60_000);

  it('gives a plain exit as it was', async () => {
    const result = await runChild('bash', ['-c', 'echo \'{"ok":1}\'; echo oops >&2; exit 0'], { cwd: tmp, env: process.env, captureStdout: true });
    expect(result).toMatchObject({ code: 0, signal: null, stdout: '{"ok":1}\n', stderrTail: ['oops'], timedOut: false });
  });
});
