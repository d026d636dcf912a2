// One run per work dir: the lock file names its holder; a live holder refuses the next run,
// a dead one (or a pid now used by another process) leaves a stale lock the next run takes over.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Code } from '../../src/errors';
import { processStartTime } from '../../src/process/liveness';
import { LOCK_FILE, moveRunAside, runFilesIn, WorkDirLock } from '../../src/tuning/lock';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-lock-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const writeHolder = (pid: number, startTime: string) => fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid, startTime }));

/** A process that is surely alive while the test runs, and its exit. */
function sleeper(): { child: ChildProcess; exited: Promise<void> } {
  const child = spawn('sleep', ['600'], { stdio: 'ignore' });
  return { child, exited: new Promise((resolve) => child.once('exit', () => resolve())) };
}

describe('WorkDirLock', () => {
  it('is held by one run at a time, in this process too, and released at the end', () => {
    const lock = WorkDirLock.acquire(dir);
    expect(JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8'))).toEqual({ pid: process.pid, startTime: processStartTime(process.pid) });
    expect(() => WorkDirLock.acquire(dir)).toThrow(
      expect.objectContaining({ code: Code.FailedPrecondition, message: expect.stringMatching(/is in use by a run of another job of this process/) }),
    );
    lock.release();
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    WorkDirLock.acquire(dir).release();
  });

  it('refuses while another live process holds it, naming that process', async () => {
    const { child, exited } = sleeper();
    try {
      writeHolder(child.pid!, processStartTime(child.pid!));
      expect(() => WorkDirLock.acquire(dir)).toThrow(new RegExp(`in use by a run of process ${child.pid}`));
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    // Its holder is gone (killed with -9, nothing released): the next run takes the lock over.
    const lock = WorkDirLock.acquire(dir);
    expect(JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it('takes over a lock whose pid now belongs to another process, or that is half written', async () => {
    const { child, exited } = sleeper();
    try {
      writeHolder(child.pid!, '1');
      WorkDirLock.acquire(dir).release();
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    fs.writeFileSync(path.join(dir, LOCK_FILE), '{"pi');
    WorkDirLock.acquire(dir).release();
  });
});

describe('an earlier run in the work dir', () => {
  it('is found by its files and moved aside whole, never deleted', () => {
    expect(runFilesIn(dir)).toEqual([]);
    for (const f of ['database_workload.json', 'database_tuning_record.json', 'colt-summary.json']) fs.writeFileSync(path.join(dir, f), f);
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    expect(runFilesIn(dir)).toEqual(['database_workload.json', 'database_tuning_record.json', 'colt-summary.json']);
    const aside = moveRunAside(dir, new Date('2026-12-01T00:00:00Z'));
    expect(path.basename(aside)).toBe('previous-run-2026-12-01T00-00-00-000Z');
    expect(fs.readFileSync(path.join(aside, 'database_tuning_record.json'), 'utf8')).toBe('database_tuning_record.json');
    expect(runFilesIn(dir)).toEqual([]);
    expect(fs.readFileSync(path.join(dir, 'notes.txt'), 'utf8')).toBe('mine');
  });
});
