// colt-checkpoint.json: the search's state after each measured batch, beside the database, so
// that `--resume` (or a restarted bridge) carries on where the run stopped. The database stays
// the record of truth for what was measured; the checkpoint holds what only the search knows
// (the tree, per-model statistics, random streams). Written atomically and durably (temp file,
// fsync, rename, fsync of the directory): a reader sees the old checkpoint or the new one, never
// half of one. Read back whole against a schema: a damaged one is refused before anything starts.
import fs from 'node:fs';
import path from 'node:path';

import { z } from 'zod';

import { Code, ColtError } from '../errors';
import type { TargetSpec } from '../options/target';
import type { SearchSnapshot } from '../search';

export const CHECKPOINT_FILE = 'colt-checkpoint.json';
const VERSION = 1;

// The whole checkpoint, as the search and the session wrote it: every field a restore reads.
const finite = z.number().finite();
const count = z.number().int().nonnegative();
const candidate = z.object({
  traceJson: z.string(),
  shash: z.string(),
  decisions: z.array(z.object({ instIndex: z.number().int(), kind: z.string(), value: z.unknown(), detail: z.unknown() })),
});
const measureErrorCode = z.enum(['BUILD_FAILED', 'RUN_FAILED', 'TIMED_OUT', 'SESSION_TIMEOUT', 'DEVICE_LOST', 'INVALID_SCHEDULE', 'WRONG_RESULT']);
const measured = z.discriminatedUnion('status', [
  z.object({ status: z.literal('unmeasured') }),
  z.object({ status: z.literal('pending') }),
  z.object({ status: z.literal('ok'), latencySec: finite }),
  z.object({ status: z.literal('error'), code: measureErrorCode }),
]);
const node = z.object({
  id: count,
  parent: count.nullable(),
  children: z.array(count),
  candidate: candidate.optional(),
  model: z.string(),
  expandedBy: z.string().optional(),
  predictedScore: finite.optional(),
  visits: count,
  valueSum: finite,
  failures: count,
  terminal: z.boolean(),
  measured,
  lostRuns: count,
  removed: z.boolean(),
});
const transformation = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('mutator'), name: z.string() }),
  z.object({ kind: z.literal('setDecision'), instIndex: z.number().int(), value: z.unknown() }),
]);
const searchSnapshot = z
  .object({
    version: z.literal(1),
    tree: z.object({ nodes: z.array(node).min(1) }),
    populated: z.boolean(),
    rounds: count,
    trialsUsed: count,
    measurements: z.array(
      z.object({ nodeId: count, shash: z.string(), traceJson: z.string(), latencySec: finite.optional(), error: z.string().optional(), device: z.string().optional() }),
    ),
    perModel: z.record(z.string(), z.object({ expansions: count, failures: count, improved: count })),
    recentExpanders: z.array(z.string()),
    streak: count,
    regressions: z.array(
      z.object({
        model: z.string(),
        proposal: z.object({ transformations: z.array(transformation), nextModel: z.string().optional() }),
        parentScore: finite,
        childScore: finite,
      }),
    ),
    escalations: z.object({ asked: count, replaced: count }),
    rng: z.object({ propose: finite, apply: finite, sample: finite, measure: finite }),
    proposers: z.record(z.string(), z.unknown()),
  })
  .superRefine((snapshot, ctx) => {
    // The tree hangs together: ids are indices, parents come first, children point back.
    const nodes = snapshot.tree.nodes;
    const fail = (index: number, message: string): void => ctx.addIssue({ code: 'custom', path: ['tree', 'nodes', index], message });
    nodes.forEach((n, i) => {
      if (n.id !== i) return fail(i, `has id ${n.id}`);
      if (i === 0 && (n.parent !== null || n.candidate)) return fail(i, 'is not a root');
      if (i > 0 && (n.parent === null || n.parent >= i || !n.candidate)) return fail(i, 'has no earlier parent or no schedule');
      for (const c of n.children) if (nodes[c]?.parent !== i) return fail(i, `lists ${c}, which is not its child`);
    });
    snapshot.measurements.forEach((m, i) => {
      if (m.nodeId >= nodes.length) ctx.addIssue({ code: 'custom', path: ['measurements', i, 'nodeId'], message: `no node ${m.nodeId}` });
    });
  });

const checkpointSchema = z.object({
  version: z.literal(VERSION),
  workload: z.string(),
  target: z.looseObject({ kind: z.string() }),
  workloadKey: z.string(),
  savedAt: z.string(),
  search: searchSnapshot,
  llm: z.unknown().optional(),
});

// The schema reads what the search writes: a field added to the snapshot must be added here.
type Parsed = z.infer<typeof searchSnapshot>;
const _readsWhatIsWritten: (s: SearchSnapshot) => Parsed = (s) => s;
const _writesWhatIsRead: (s: Parsed) => SearchSnapshot = (s) => s;
void _readsWhatIsWritten;
void _writesWhatIsRead;

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

/** Writes tmp, fsync, rename, fsync of the directory: after a crash, the old checkpoint or the new one. */
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
  syncDir(workDir);
  return file;
}

/** The rename itself is durable only once the directory is on disk. */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Some file systems refuse to fsync a directory; the rename still happened.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** The same, off the event loop: the body is written and synced by libuv's threads. */
async function writeCheckpointAsync(workDir: string, checkpoint: Checkpoint): Promise<void> {
  const file = path.join(workDir, CHECKPOINT_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const handle = await fs.promises.open(tmp, 'w');
    try {
      await handle.writeFile(JSON.stringify(checkpoint));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.promises.rename(tmp, file);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
  let dir: fs.promises.FileHandle | undefined;
  try {
    dir = await fs.promises.open(workDir, 'r');
    await dir.sync();
  } catch {
    // As in syncDir.
  } finally {
    await dir?.close();
  }
}

/**
 * A run's checkpoint writer: coalesces. A batch's checkpoint is written as soon as the write
 * before it is done; a mere change of the LLM side's account (every LLM call: the LLM ledger keeps
 * each booking meanwhile) at most once per `intervalMs`; only the latest state is ever written,
 * one write at a time; flush() on exit.
 */
export class CheckpointWriter {
  /** Checkpoints written to disk so far. */
  written = 0;
  private latest: Checkpoint | undefined;
  /** latest is to be written now: a batch's, the interval's end, or a flush. */
  private due = false;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private swept = false;

  constructor(
    private readonly workDir: string,
    private readonly options: { intervalMs?: number; onError?: (err: Error) => void } = {},
  ) {}

  /** `now`: a committed batch's state, written at once; otherwise within the interval. */
  save(checkpoint: Checkpoint, now: boolean): void {
    this.latest = checkpoint;
    if (now) {
      this.clearTimer();
      this.due = true;
      this.start();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.due = true;
        this.start();
      }, this.options.intervalMs ?? 5000);
      this.timer.unref();
    }
  }

  /** Writes what is pending and waits for every write to be done. */
  async flush(): Promise<void> {
    this.clearTimer();
    if (this.latest) this.due = true;
    this.start();
    while (this.running) await this.running;
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private start(): void {
    if (this.running || !this.latest || !this.due) return;
    this.running = (async () => {
      if (!this.swept) {
        // Temporary files of runs killed mid-write (the work dir's lock makes them no one's now).
        this.swept = true;
        const stale = (await fs.promises.readdir(this.workDir).catch(() => [])).filter((f) => f.startsWith(`${CHECKPOINT_FILE}.`) && f.endsWith('.tmp'));
        await Promise.all(stale.map((f) => fs.promises.rm(path.join(this.workDir, f), { force: true })));
      }
      // Only a state that is due is written: one saved in passing while a write ran waits for
      // its interval (its timer is set) like any other.
      while (this.latest && this.due) {
        const next = this.latest;
        this.latest = undefined;
        this.due = false;
        try {
          await writeCheckpointAsync(this.workDir, next);
          this.written += 1;
        } catch (err) {
          this.options.onError?.(err as Error);
        }
      }
      this.running = undefined;
    })();
  }
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
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ColtError(Code.InvalidArgument, `${file} is not a COLT checkpoint (not valid JSON): remove it to resume from the database alone`);
  }
  const version = (value as { version?: unknown } | null)?.version;
  if (version !== VERSION || (value as { search?: { version?: unknown } }).search?.version !== 1) {
    throw new ColtError(Code.InvalidArgument, `${file} is not a COLT checkpoint this version can read: remove it to resume from the database alone`);
  }
  const parsed = checkpointSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue.path.length > 0 ? issue.path.join('.') : 'the checkpoint';
    throw new ColtError(Code.InvalidArgument, `${file} is damaged (${where}: ${issue.message}): remove it to resume from the database alone`);
  }
  return parsed.data as Checkpoint;
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
