// colt-checkpoint.json: the search's state after each measured batch, beside the database, so
// that `--resume` (or a restarted bridge) carries on where the run stopped. The database stays
// the record of truth for what was measured; the checkpoint holds what only the search knows
// (the tree, per-model statistics, random streams). Written atomically: a reader sees the old
// checkpoint or the new one, never half of one.
import fs from 'node:fs';
import path from 'node:path';

import { Code, ColtError } from '../errors';
import type { TargetSpec } from '../options/target';
import type { SearchSnapshot } from '../search';

export const CHECKPOINT_FILE = 'colt-checkpoint.json';
const VERSION = 1;

export interface Checkpoint {
  version: typeof VERSION;
  /** The workload as the run sent it to the bridge (a suite name, or a file's absolute path). */
  workload: string;
  /** The target as the user gave it, before TVM normalised it. */
  target: TargetSpec;
  /** TVM's structural hash of the workload: a file edited since is another workload. */
  workloadKey: string;
  savedAt: string;
  search: SearchSnapshot;
  /**
   * The LLM side (pool account, budget spent, the fallback's statistics: src/llm/setup.ts),
   * read back by its owner, which tolerates what it cannot use. Absent from runs without LLMs
   * and from older checkpoints, which still resume (with a fresh LLM account).
   */
  llm?: unknown;
}

/** Object keys sorted, so that two equal targets compare equal whatever their key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function sameTarget(a: TargetSpec, b: TargetSpec): boolean {
  return canonical(a) === canonical(b);
}

/** Writes tmp + rename in the work dir; a crash mid-write leaves the previous checkpoint. */
export function writeCheckpoint(workDir: string, checkpoint: Checkpoint): string {
  const file = path.join(workDir, CHECKPOINT_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeSync(fd, JSON.stringify(checkpoint));
      // On disk before the rename makes it the checkpoint, so a power cut cannot leave it empty.
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  return file;
}

/** The work dir's checkpoint, undefined when there is none; an INVALID_ARGUMENT ColtError when it cannot be used. */
export function readCheckpoint(workDir: string): Checkpoint | undefined {
  const file = path.join(workDir, CHECKPOINT_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ColtError(Code.InvalidArgument, `cannot read ${file}: ${(err as Error).message}`);
  }
  let value: Partial<Checkpoint>;
  try {
    value = JSON.parse(text) as Partial<Checkpoint>;
  } catch {
    throw new ColtError(Code.InvalidArgument, `${file} is not a COLT checkpoint (not valid JSON): remove it to resume from the database alone`);
  }
  if (
    value?.version !== VERSION ||
    typeof value.workload !== 'string' ||
    typeof value.target?.kind !== 'string' ||
    typeof value.workloadKey !== 'string' ||
    value.search?.version !== 1
  ) {
    throw new ColtError(Code.InvalidArgument, `${file} is not a COLT checkpoint this version can read: remove it to resume from the database alone`);
  }
  return value as Checkpoint;
}

/**
 * `--resume`: the checkpoint in the work dir, after checking that it is a run of the same
 * workload on the same target (undefined when the run left none: then the database alone says
 * what was measured).
 */
export function loadResumePoint(workDir: string, workload: string, target: TargetSpec): Checkpoint | undefined {
  const checkpoint = readCheckpoint(workDir);
  if (!checkpoint) return undefined;
  if (checkpoint.workload !== workload || !sameTarget(checkpoint.target, target)) {
    throw new ColtError(Code.InvalidArgument, 
      `--resume: ${workDir} holds a run of ${checkpoint.workload} on ${JSON.stringify(checkpoint.target)}, ` +
        `not ${workload} on ${JSON.stringify(target)}: resume with those settings or use another --work-dir`,
    );
  }
  return checkpoint;
}

/** `--tuning-records DIR`: the directory must hold a MetaSchedule database. */
export function checkTuningRecords(dir: string): string {
  const records = path.join(dir, 'database_tuning_record.json');
  if (!fs.existsSync(path.join(dir, 'database_workload.json')) || !fs.existsSync(records)) {
    throw new ColtError(Code.InvalidArgument, `--tuning-records: ${dir} holds no MetaSchedule database (database_workload.json, database_tuning_record.json)`);
  }
  return dir;
}
