// One tuning run's life with TVM: start a task host (the bridge process), open the task, measure
// the untuned build, run the search, checkpoint it after every batch, and, when the bridge dies
// mid-run, start a new one and carry on from the last checkpoint (a bounded number of times). The
// same path serves `--resume`: the search is rebuilt from the checkpoint and the database.
import { performance } from 'node:perf_hooks';

import { describeExit, measureDeadlineMs, type RpcSettings, type StartTaskHost, type TaskHost, type HostedTask } from '../bridge';
import { Code, ColtError, hasCode } from '../errors';
import type { LlmRunState } from '../llm';
import type { Logger } from '../log';
import type { TargetSpec } from '../options/target';
import type { TuneOptions } from '../options/tune';
import {
  SearchError,
  Search,
  type Candidate,
  type CommittedTrial,
  type Proposer,
  type SearchEvent,
  type SearchOptions,
  type SearchResult,
  type SearchSnapshot,
} from '../search';
import { CheckpointWriter, type Checkpoint } from './checkpoint';
import { LlmLedger, readLlmLedger } from './llm-ledger';

export interface TunedTask {
  taskName: string;
  flop: number;
  /** The target as the bridge (TVM) normalised it. */
  target: TargetSpec;
  untunedLatencyUs: number | null;
  /** The cost model file that scored beside the run's own (absolute); null: none. */
  costModelFile: string | null;
  result: SearchResult;
  /** Times the bridge died and was started again. */
  bridgeRestarts: number;
}

/** What the session reports once the task is open (the reporters' TaskInfo, less who proposes). */
export interface OpenedTask {
  taskName: string;
  flop: number;
  target: TargetSpec;
  untunedLatencyUs: number | null;
  /** The cost model file that scores beside the run's own (absolute); null: none. */
  costModelFile: string | null;
}

export interface TuneSessionConfig {
  options: TuneOptions;
  /** The workload as the bridge gets it (a suite name, or a file's absolute path). */
  workload: string;
  workDir: string;
  logger: Logger;
  /** Starts the bridge (again, after it died). */
  startHost: StartTaskHost;
  /** `--resume`: the checkpoint found (undefined: rebuild from the database alone). */
  resume?: { checkpoint?: Checkpoint };
  /** `--tuning-records`: another run's work dir to warm-start from. */
  warmStartDir?: string;
  /** Writes the run's checkpoints; by default one coalescing writer into workDir. */
  checkpoints?: CheckpointWriter;
  /** Once, when the task is first open and the untuned build measured. */
  onTask: (task: OpenedTask) => void;
  onEvent: (event: SearchEvent) => void;
}

export interface SearchWiring {
  proposers: Record<string, Proposer>;
  options: SearchOptions;
  /**
   * The LLM side's state (budget spent, per-model account): checkpointed with the search, and
   * restored on `--resume`, so that a resumed run carries on with what the first one spent.
   */
  llm?: LlmRunState;
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function parseTargetJson(text: string, fallback: TargetSpec): TargetSpec {
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value === 'object' && value !== null && typeof (value as { kind?: unknown }).kind === 'string') {
      return value as TargetSpec;
    }
  } catch {
    // An older bridge may not normalise: keep what we sent.
  }
  return fallback;
}

/** Where the trials run: a tracker's devices, when the options name one. */
export function rpcSettingsOf(options: TuneOptions): RpcSettings | undefined {
  if (!options.rpcTracker || !options.rpcKey) return undefined;
  return {
    trackerHost: options.rpcTracker.host,
    trackerPort: options.rpcTracker.port,
    key: options.rpcKey,
    priority: options.rpcPriority,
    sessionTimeoutSec: options.rpcSessionTimeout ?? options.timeout,
  };
}

/** The bridge's words about the user's input (workload, target, work dir, tracker) are the user's. */
function asUsage(prefix = '') {
  return (err: unknown): never => {
    if (hasCode(err, Code.InvalidArgument)) throw new ColtError(Code.InvalidArgument, `${prefix}${err.message}`, { cause: err });
    throw err;
  };
}

/** An llvm target given in full without mcpu compiles for generic x86-64: say so, once. */
function warnOfGenericCpu(options: TuneOptions, task: HostedTask, logger: Logger): void {
  if (options.targetIsHost || options.target.kind !== 'llvm' || options.target.mcpu !== undefined) return;
  const cpu = task.hostCpu ? `; this CPU is "${task.hostCpu}": add "mcpu":"${task.hostCpu}",` : ';';
  logger.warn(
    `--target has no "mcpu": TVM compiles for a generic CPU (on x86-64: no AVX, no FMA)${cpu} or give --target llvm for this machine's CPU`,
  );
}

export class TuneSession {
  private host: TaskHost | undefined;
  private taskId: string | undefined;
  private search: Search | undefined;
  private cancelled = false;
  private opened: OpenedTask | undefined;
  private lastSnapshot: SearchSnapshot | undefined;
  private lastCheckpoint: Checkpoint | undefined;
  private llm: LlmRunState | undefined;
  private checkpointWarned = false;
  private readonly checkpoints: CheckpointWriter;
  private readonly ledger: LlmLedger;

  constructor(private readonly config: TuneSessionConfig) {
    this.checkpoints =
      config.checkpoints ??
      new CheckpointWriter(config.workDir, {
        // The run goes on: the database still holds every trial, and a resume rebuilds from it.
        onError: (err) => this.warnCheckpoint(err),
      });
    this.ledger = new LlmLedger(config.workDir);
  }

  private warnCheckpoint(err: Error): void {
    if (!this.checkpointWarned) this.config.logger.warn(`cannot write the checkpoint: ${err.message}`);
    this.checkpointWarned = true;
  }

  /** Stops the search at the next step boundary (the batch in flight finishes), or the start. */
  cancel(): void {
    this.cancelled = true;
    this.search?.cancel();
  }

  /**
   * Tunes to the end of the budget, starting the bridge again when it dies (up to
   * options.maxBridgeRestarts times). undefined when cancelled before the search began.
   */
  async run(wiring: SearchWiring): Promise<TunedTask | undefined> {
    try {
      return await this.runToEnd(wiring);
    } finally {
      // Whatever ends the run, the last state reaches the disk before the run says it ended.
      await this.checkpoints.flush();
      await this.ledger.close();
    }
  }

  private async runToEnd(wiring: SearchWiring): Promise<TunedTask | undefined> {
    const { options, logger, workDir } = this.config;
    let restarts = 0;
    let snapshot = this.config.resume?.checkpoint?.search;
    this.llm = wiring.llm;
    if (this.llm) {
      // Once per run: a restarted bridge finds the LLM side as it is, with everything spent since.
      const saved = this.config.resume?.checkpoint?.llm;
      if (saved !== undefined) this.llm.restore(saved);
      // Calls booked after the last checkpoint, by a run killed before the next one.
      const ledger = this.config.resume ? readLlmLedger(workDir) : undefined;
      if (ledger) this.llm.carryBookings(ledger);
      // A call goes out once its booking is in the ledger, on disk (one short synced line:
      // milliseconds against the call's seconds): a run killed during it resumes with it spent.
      // The checkpoint carrying it, with the answer's tokens and cost, follows coalesced.
      const llm = this.llm;
      this.llm.onChange((phase) => {
        this.writeCheckpoint(false);
        if (phase === 'out') return this.ledger.append(llm.bookings()).catch((err: Error) => this.warnCheckpoint(err));
        return undefined;
      });
    }
    for (;;) {
      try {
        this.host = await this.config.startHost();
      } catch (err) {
        // One that never became ready (stopped or stuck while it started) was killed: start
        // another, as for one that died mid-run.
        if (!(err instanceof ColtError && err.details.notReady) || restarts >= options.maxBridgeRestarts || this.cancelled) throw err;
        restarts += 1;
        logger.warn(`${err.message}: starting it again (${restarts} of ${options.maxBridgeRestarts})`);
        continue;
      }
      if (this.cancelled) return undefined;
      try {
        const resuming = this.config.resume !== undefined || restarts > 0;
        return { ...(await this.attempt(this.host, wiring, resuming, snapshot)), bridgeRestarts: restarts };
      } catch (err) {
        if (err instanceof SearchError && err.code === 'MEASUREMENT_STALLED') {
          throw new ColtError(Code.Unavailable, `${err.message}; the records so far are in ${workDir} (--resume carries on)`, { cause: err });
        }
        if (!hasCode(err, Code.BridgeStopped)) throw err;
        if (restarts >= options.maxBridgeRestarts || this.cancelled) {
          throw new ColtError(Code.BridgeStopped, `${err.message}; records already measured are in ${workDir} (--resume carries on)`, {
            details: { ...err.details, workDir },
            cause: err,
          });
        }
        restarts += 1;
        snapshot = this.lastSnapshot ?? snapshot;
        const exit = err.details.exit;
        const how = exit ? describeExit(exit) : 'connection lost';
        logger.warn(
          `the TVM bridge stopped during tuning (${how}): starting it again (${restarts} of ${options.maxBridgeRestarts}) to carry on from the last checkpoint`,
        );
        this.search = undefined;
        this.taskId = undefined;
        await this.host.stop();
      }
    }
  }

  private async attempt(
    host: TaskHost,
    wiring: SearchWiring,
    resuming: boolean,
    snapshot: SearchSnapshot | undefined,
  ): Promise<Omit<TunedTask, 'bridgeRestarts'>> {
    const { options, logger, workDir } = this.config;
    const rpc = rpcSettingsOf(options);
    const task = await host
      .openTask({
        workload: this.config.workload,
        target: options.target,
        hostCpu: options.targetIsHost,
        workDir,
        seed: options.seed,
        costModel: options.costModel,
        costModelFile: options.costModelFile ?? '',
        measure: {
          number: options.number,
          repeat: options.repeat,
          minRepeatMs: options.minRepeatMs,
          timeoutSec: options.timeout,
          checkResults: options.checkResults,
          ...(rpc ? { rpc } : {}),
        },
      })
      .catch(asUsage());
    this.taskId = task.taskId;
    for (const warning of task.warnings) logger.warn(warning);
    const checkpoint = this.config.resume?.checkpoint;
    if (checkpoint && checkpoint.workloadKey !== task.workloadKey) {
      throw new ColtError(Code.InvalidArgument, `--resume: ${checkpoint.workload} is not the workload ${workDir} was tuning (it changed since)`);
    }
    logger.info(
      `task ${task.taskId} (${task.taskName}) open: ${task.flop} FLOP, ${task.designSpaces} design spaces` +
        (rpc ? `, ${task.devices} RPC device(s) with key ${rpc.key}` : ''),
    );

    if (!this.opened) {
      warnOfGenericCpu(options, task, logger);
      const untunedLatencyUs = await this.measureUntuned(host, task.taskId);
      this.opened = {
        taskName: task.taskName,
        flop: task.flop,
        target: parseTargetJson(task.targetJson, options.target),
        untunedLatencyUs,
        costModelFile: task.costModelFile,
      };
      this.config.onTask(this.opened);
    }
    const opened = this.opened;

    // The database is the record of truth: what it holds is measured, and trains the cost model.
    let committed: CommittedTrial[] = [];
    if (resuming) {
      committed = (await host.listRecords({ taskId: task.taskId, trainCostModel: true })).trials;
      logger.info(`resuming: ${committed.length} trial(s) in ${workDir}${snapshot ? '' : ' and no checkpoint'}`);
    }
    const seeds = await this.warmStart(host, task.taskId, snapshot === undefined);

    const search = new Search(
      { ...wiring.options, ...(rpc ? { maxBatchesInFlight: 2 } : {}) },
      { space: task.space, proposers: wiring.proposers, clock: () => performance.now() },
    );
    if (resuming) search.restore(snapshot, committed);
    if (seeds.length > 0) search.seedPopulation(seeds);
    this.search = search;
    if (this.cancelled) search.cancel();
    const result = await host.guard(
      search
        .run((event) => {
          this.config.onEvent(event);
          if (event.type === 'measure' || (event.type === 'population' && !event.refill)) this.checkpoint(search, task);
        })
        .catch((err: unknown) => {
          // A stalled search still leaves a checkpoint to resume from.
          if (err instanceof SearchError && err.code === 'MEASUREMENT_STALLED') this.checkpoint(search, task);
          throw err;
        }),
    );
    return {
      taskName: opened.taskName,
      flop: opened.flop,
      target: opened.target,
      untunedLatencyUs: opened.untunedLatencyUs,
      costModelFile: opened.costModelFile,
      result,
    };
  }

  /** `--tuning-records`: trains the cost model on another run's records; its best seed the population. */
  private async warmStart(host: TaskHost, taskId: string, wantSeeds: boolean): Promise<Candidate[]> {
    const dir = this.config.warmStartDir;
    if (!dir) return [];
    const { options, logger } = this.config;
    const limit = Math.max(1, Math.floor(Math.max(options.perIter, 8) / 2));
    const records = await host.listRecords({ taskId, workDir: dir, limit, trainCostModel: true }).catch(asUsage('--tuning-records: '));
    if (records.total === 0) {
      logger.warn(`--tuning-records: ${dir} holds no records of this workload; starting without them`);
      return [];
    }
    const seeds = records.trials.flatMap((t) => (t.candidate ? [t.candidate] : []));
    logger.info(`warm start: the cost model learnt from ${records.total} record(s) in ${dir}; ${seeds.length} seed the population`);
    return wantSeeds ? seeds : [];
  }

  private checkpoint(search: Search, task: HostedTask): void {
    const snapshot = search.snapshot();
    this.lastSnapshot = snapshot;
    this.lastCheckpoint = {
      version: 1,
      workload: this.config.workload,
      target: this.config.options.target,
      workloadKey: task.workloadKey,
      savedAt: '',
      search: snapshot,
    };
    this.writeCheckpoint(true);
  }

  /**
   * Saves the last checkpoint with the LLM side as it is now: at once after a batch (`now`), and
   * coalesced when an LLM call is booked between batches (the search's part stays the last
   * batch's); the LLM ledger holds each call's booking until a checkpoint carries it.
   */
  private writeCheckpoint(now: boolean): void {
    const base = this.lastCheckpoint ?? this.config.resume?.checkpoint;
    if (!base) return;
    // A run without LLMs keeps the LLM state it resumed from for the next run that has them.
    const llm = this.llm ? this.llm.snapshot() : base.llm;
    this.checkpoints.save({ ...base, savedAt: new Date().toISOString(), ...(llm !== undefined ? { llm } : {}) }, now);
  }

  /** The untuned build's latency in µs; a failure here costs the comparison, not the run. */
  private async measureUntuned(host: TaskHost, taskId: string): Promise<number | null> {
    const { options, logger } = this.config;
    try {
      const outcome = await host.measureUntuned(taskId, measureDeadlineMs(1, options.timeout));
      if (outcome?.ok && outcome.runSecs.length > 0) return mean(outcome.runSecs) * 1e6;
      logger.warn(`the untuned build could not be measured: ${outcome && !outcome.ok ? outcome.message : 'no result'}`);
    } catch (err) {
      if (hasCode(err, Code.BridgeStopped)) throw err;
      logger.warn(`the untuned build could not be measured: ${(err as Error).message}`);
    }
    return null;
  }

  /** Closes the task; a bridge that fails here has nothing left to lose. */
  async closeTask(): Promise<void> {
    const host = this.host;
    if (!host || !this.taskId) return;
    await host.closeTask(this.taskId).catch((err: unknown) => {
      this.config.logger.debug(`CloseTask failed: ${(err as Error).message}`);
    });
  }

  async stop(): Promise<void> {
    await this.host?.stop();
  }
}
