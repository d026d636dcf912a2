// One run per work dir. Two runs writing one work dir append to one database under their own
// workload indices and overwrite each other's checkpoint; so a run holds the work dir's lock
// file for as long as it runs, and a second run (another `colt tune`, another daemon job, the
// same process or not) is refused, naming the holder.
//
// Node has no flock(2): the lock is a file made with O_EXCL that names its holder by pid and the
// process's start time. A lock whose holder is gone (kill -9, a power cut) or whose pid now
// belongs to another process (the start time differs) is stale, and the next run takes it over.
import fs from 'node:fs';
import path from 'node:path';

import { Code, ColtError } from '../errors';
import { identify, sameProcess, type ProcessIdentity } from '../process/liveness';
import { LLM_LEDGER_FILE } from './llm-ledger';

export const LOCK_FILE = 'colt.lock';

/** The holder: its pid and start time (src/process/liveness.ts). */
type Holder = ProcessIdentity;

function readHolder(file: string): Holder | undefined {
  try {
    const value = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<Holder>;
    if (typeof value.pid === 'number' && Number.isInteger(value.pid) && value.pid > 0) {
      return { pid: value.pid, startTime: typeof value.startTime === 'string' ? value.startTime : '' };
    }
  } catch {
    // Unreadable or half written: a holder that died while writing it.
  }
  return undefined;
}

export class WorkDirLock {
  private released = false;
  private readonly onExit = (): void => this.release();

  private constructor(readonly file: string) {
    process.once('exit', this.onExit);
  }

  /** Takes the work dir's lock, or throws FAILED_PRECONDITION naming the run that holds it. */
  static acquire(workDir: string): WorkDirLock {
    const file = path.join(workDir, LOCK_FILE);
    const me: Holder = identify(process.pid);
    for (let attempt = 0; ; attempt++) {
      try {
        const fd = fs.openSync(file, 'wx', 0o644);
        try {
          fs.writeSync(fd, JSON.stringify(me));
        } finally {
          fs.closeSync(fd);
        }
        return new WorkDirLock(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new ColtError(Code.InvalidArgument, `cannot lock work dir ${workDir}: ${(err as Error).message}`);
        }
      }
      const holder = readHolder(file);
      if (holder && sameProcess(holder.pid, holder.startTime)) {
        const who = holder.pid === process.pid ? 'another job of this process' : `process ${holder.pid}`;
        throw new ColtError(
          Code.FailedPrecondition,
          `work dir ${workDir} is in use by a run of ${who} (${file}): wait for it to end, or use another --work-dir`,
        );
      }
      // Stale: take it over once; if another run took it meanwhile, the next turn says so.
      if (attempt > 0) {
        throw new ColtError(Code.FailedPrecondition, `work dir ${workDir}: cannot take over the stale lock ${file}`);
      }
      fs.rmSync(file, { force: true });
    }
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    process.removeListener('exit', this.onExit);
    // Only our own: a lock we lost to a takeover (it looked stale to someone) is theirs now.
    const holder = readHolder(this.file);
    if (holder?.pid === process.pid) fs.rmSync(this.file, { force: true });
  }
}

/** What in a work dir makes it a run's: its database, checkpoint, LLM ledger or summary. */
const RUN_FILES = ['database_workload.json', 'database_tuning_record.json', 'colt-checkpoint.json', LLM_LEDGER_FILE, 'colt-summary.json'];

/** The files of an earlier run in workDir (none: a fresh work dir). */
export function runFilesIn(workDir: string): string[] {
  return RUN_FILES.filter((f) => fs.existsSync(path.join(workDir, f)));
}

/** `--force`: moves an earlier run's files into a folder of their own beside them; returns it. */
export function moveRunAside(workDir: string, now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  let aside = path.join(workDir, `previous-run-${stamp}`);
  for (let n = 2; fs.existsSync(aside); n++) aside = path.join(workDir, `previous-run-${stamp}-${n}`);
  fs.mkdirSync(aside);
  for (const f of runFilesIn(workDir)) fs.renameSync(path.join(workDir, f), path.join(aside, f));
  return aside;
}
