// One tuning job's life with the TVM bridge: start it, open the task, measure the untuned
// build, run the search, checkpoint it after every batch, and, when the bridge dies mid-run,
// start a new one and carry on from the last checkpoint (a bounded number of times). The same
// path serves `--resume`: the search is rebuilt from the checkpoint and the database.
import { performance } from 'node:perf_hooks';

import {
  BridgeError,
  BridgeErrorCode,
  BridgeScheduleSpace,
  committedTrialsFromProto,
  describeExit,
  measureDeadlineMs,
  measureOutcomesFromProto,
  startBridge,
  type BridgeExit,
  type BridgeProcess,
  type StartBridgeOptions,
} from '../bridge';
import type { OpenTaskResponse__Output } from '../generated/colt/v1/OpenTaskResponse';
import type { RpcConfig } from '../generated/colt/v1/RpcConfig';
import type { LlmRunState } from '../llm';
import type { Logger } from '../log';
import {
  MeasurementStalledError,
  Search,
  type Candidate,
  type CommittedTrial,
  type Proposer,
  type SearchEvent,
  type SearchOptions,
  type SearchResult,
  type SearchSnapshot,
} from '../search';
import { writeCheckpoint, type Checkpoint } from './checkpoint';
import { BridgeStoppedError, CliError, EXIT, UsageError } from './errors';
import type { TuneOptions } from './options';
import type { TargetSpec } from './target';

/**
 * How long a dropped connection may precede the exit it announces. A SIGKILLed bridge with many
 * threads can take seconds to be reaped on a loaded machine; waiting only delays the message.
 */
const EXIT_AFTER_DROP_MS = 10_000;

/**
 * Turns the bridge dying into one BridgeStoppedError, whether we learn it from the process
 * exiting or from a call failing with UNAVAILABLE first.
 */
export class BridgeWatch {
  private readonly death: Promise<never>;

  constructor(
    private readonly bridge: BridgeProcess,
    private readonly workDir: string,
  ) {
    this.death = bridge.exited.then((exit) => {
      if (exit.expected) return new Promise<never>(() => undefined);
      throw new BridgeStoppedError(exit, workDir);
    });
    this.death.catch(() => undefined);
  }

  /** Awaits `work`, or fails as soon as the bridge is gone. */
  async run<T>(work: Promise<T>): Promise<T> {
    // If the bridge dies first, `work` fails later with nobody listening: that is expected.
    work.catch(() => undefined);
    try {
      return await Promise.race([work, this.death]);
    } catch (err) {
      throw await this.translate(err);
    }
  }

  private async translate(err: unknown): Promise<unknown> {
    if (!(err instanceof BridgeError) || err.code !== BridgeErrorCode.UNAVAILABLE) return err;
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([
      this.bridge.exited,
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), EXIT_AFTER_DROP_MS))),
    ]);
    clearTimeout(timer);
    return new BridgeStoppedError(exit as BridgeExit | undefined, this.workDir);
  }
}

export interface TunedTask {
  task: OpenTaskResponse__Output;
  /** The target as the bridge (TVM) normalised it. */
  target: TargetSpec;
  untunedLatencyUs: number | null;
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
}

export interface TuneSessionConfig {
  options: TuneOptions;
  /** The workload as the bridge gets it (a suite name, or a file's absolute path). */
  workload: string;
  workDir: string;
  logger: Logger;
  bridge?: Omit<StartBridgeOptions, 'logger'>;
  /** `--resume`: the checkpoint found (undefined: rebuild from the database alone). */
  resume?: { checkpoint?: Checkpoint };
  /** `--tuning-records`: another run's work dir to warm-start from. */
  warmStartDir?: string;
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

/** The RPC part of the task's measure config, when runs go to a tracker's devices. */
export function rpcConfigOf(options: TuneOptions): RpcConfig | undefined {
  if (!options.rpcTracker || !options.rpcKey) return undefined;
  return {
    tracker_host: options.rpcTracker.host,
    tracker_port: options.rpcTracker.port,
    key: options.rpcKey,
    priority: options.rpcPriority,
    session_timeout_sec: options.rpcSessionTimeout ?? options.timeout,
  };
}

export class TuneSession {
  private bridge: BridgeProcess | undefined;
  private taskId: string | undefined;
  private search: Search | undefined;
  private cancelled = false;
  private opened: OpenedTask | undefined;
  private lastSnapshot: SearchSnapshot | undefined;
  private lastCheckpoint: Checkpoint | undefined;
  private llm: LlmRunState | undefined;
  private checkpointWarned = false;

  constructor(private readonly config: TuneSessionConfig) {}

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
    const { options, logger } = this.config;
    let restarts = 0;
    let snapshot = this.config.resume?.checkpoint?.search;
    this.llm = wiring.llm;
    if (this.llm) {
      // Once per run: a restarted bridge finds the LLM side as it is, with everything spent since.
      const saved = this.config.resume?.checkpoint?.llm;
      if (saved !== undefined) this.llm.restore(saved);
      this.llm.onChange(() => this.writeCheckpoint());
    }
    for (;;) {
      this.bridge = await startBridge({ ...this.config.bridge, logger });
      if (this.cancelled) return undefined;
      const watch = new BridgeWatch(this.bridge, this.config.workDir);
      try {
        const resuming = this.config.resume !== undefined || restarts > 0;
        return { ...(await this.attempt(watch, wiring, resuming, snapshot)), bridgeRestarts: restarts };
      } catch (err) {
        if (err instanceof MeasurementStalledError) {
          throw new CliError(`${err.message}; the records so far are in ${this.config.workDir} (--resume carries on)`, EXIT.FAILURE);
        }
        if (!(err instanceof BridgeStoppedError) || restarts >= options.maxBridgeRestarts || this.cancelled) throw err;
        restarts += 1;
        snapshot = this.lastSnapshot ?? snapshot;
        const how = err.exit ? describeExit(err.exit) : 'connection lost';
        logger.warn(
          `the TVM bridge stopped during tuning (${how}): starting it again (${restarts} of ${options.maxBridgeRestarts}) to carry on from the last checkpoint`,
        );
        this.search = undefined;
        this.taskId = undefined;
        await this.bridge.stop();
      }
    }
  }

  private async attempt(
    watch: BridgeWatch,
    wiring: SearchWiring,
    resuming: boolean,
    snapshot: SearchSnapshot | undefined,
  ): Promise<Omit<TunedTask, 'bridgeRestarts'>> {
    const { options, logger, workDir } = this.config;
    const client = (this.bridge as BridgeProcess).client;
    const rpc = rpcConfigOf(options);
    const task = await watch
      .run(
        client.openTask({
          workload: this.config.workload,
          target_json: JSON.stringify(options.target),
          work_dir: workDir,
          seed: options.seed,
          cost_model: options.costModel,
          measure: {
            number: options.number,
            repeat: options.repeat,
            min_repeat_ms: options.minRepeatMs,
            timeout_sec: options.timeout,
            check_correctness: options.checkResults,
            ...(rpc ? { rpc } : {}),
          },
        }),
      )
      .catch((err: unknown) => {
        // The bridge checked the workload, the target, the work dir and the tracker: its words
        // are the user's.
        if (err instanceof BridgeError && err.code === BridgeErrorCode.INVALID_ARGUMENT) throw new UsageError(err.message);
        throw err;
      });
    this.taskId = task.task_id;
    const checkpoint = this.config.resume?.checkpoint;
    if (checkpoint && checkpoint.workloadKey !== task.workload_key) {
      throw new UsageError(`--resume: ${checkpoint.workload} is not the workload ${workDir} was tuning (it changed since)`);
    }
    logger.info(
      `task ${task.task_id} (${task.task_name}) open: ${task.flop} FLOP, ${task.design_spaces.length} design spaces` +
        (rpc ? `, ${task.devices} RPC device(s) with key ${rpc.key}` : ''),
    );

    if (!this.opened) {
      const untunedLatencyUs = await this.measureUntuned(watch, task.task_id);
      this.opened = {
        taskName: task.task_name,
        flop: task.flop,
        target: parseTargetJson(task.target_json, options.target),
        untunedLatencyUs,
      };
      this.config.onTask(this.opened);
    }
    const opened = this.opened;

    const space = new BridgeScheduleSpace(
      client,
      task.task_id,
      task.mutators.map((m) => ({ name: m.name, probability: m.probability })),
      { measureDeadlineMs: (n) => measureDeadlineMs(n, options.timeout + (rpc ? (options.rpcSessionTimeout ?? options.timeout) : 0)) },
    );
    // The database is the record of truth: what it holds is measured, and trains the cost model.
    let committed: CommittedTrial[] = [];
    if (resuming) {
      committed = committedTrialsFromProto(await watch.run(client.listRecords({ task_id: task.task_id, train_cost_model: true })));
      logger.info(`resuming: ${committed.length} trial(s) in ${workDir}${snapshot ? '' : ' and no checkpoint'}`);
    }
    const seeds = await this.warmStart(watch, task.task_id, snapshot === undefined);

    const search = new Search(
      { ...wiring.options, ...(rpc ? { maxBatchesInFlight: 2 } : {}) },
      { space, proposers: wiring.proposers, clock: () => performance.now() },
    );
    if (resuming) search.restore(snapshot, committed);
    if (seeds.length > 0) search.seedPopulation(seeds);
    this.search = search;
    if (this.cancelled) search.cancel();
    const result = await watch.run(
      search
        .run((event) => {
          this.config.onEvent(event);
          if (event.type === 'measure' || (event.type === 'population' && !event.refill)) this.checkpoint(search, task);
        })
        .catch((err: unknown) => {
          // A stalled search still leaves a checkpoint to resume from.
          if (err instanceof MeasurementStalledError) this.checkpoint(search, task);
          throw err;
        }),
    );
    return { task, target: opened.target, untunedLatencyUs: opened.untunedLatencyUs, result };
  }

  /** `--tuning-records`: trains the cost model on another run's records; its best seed the population. */
  private async warmStart(watch: BridgeWatch, taskId: string, wantSeeds: boolean): Promise<Candidate[]> {
    const dir = this.config.warmStartDir;
    if (!dir) return [];
    const { options, logger } = this.config;
    const limit = Math.max(1, Math.floor(Math.max(options.perIter, 8) / 2));
    const response = await watch
      .run(this.bridgeClient().listRecords({ task_id: taskId, work_dir: dir, limit, train_cost_model: true }))
      .catch((err: unknown) => {
        if (err instanceof BridgeError && err.code === BridgeErrorCode.INVALID_ARGUMENT) throw new UsageError(`--tuning-records: ${err.message}`);
        throw err;
      });
    if (response.total === 0) {
      logger.warn(`--tuning-records: ${dir} holds no records of this workload; starting without them`);
      return [];
    }
    const seeds = committedTrialsFromProto(response).flatMap((t) => (t.candidate ? [t.candidate] : []));
    logger.info(`warm start: the cost model learnt from ${response.total} record(s) in ${dir}; ${seeds.length} seed the population`);
    return wantSeeds ? seeds : [];
  }

  private bridgeClient() {
    return (this.bridge as BridgeProcess).client;
  }

  private checkpoint(search: Search, task: OpenTaskResponse__Output): void {
    const snapshot = search.snapshot();
    this.lastSnapshot = snapshot;
    this.lastCheckpoint = {
      version: 1,
      workload: this.config.workload,
      target: this.config.options.target,
      workloadKey: task.workload_key,
      savedAt: '',
      search: snapshot,
    };
    this.writeCheckpoint();
  }

  /**
   * Writes the last checkpoint with the LLM side as it is now. Also called between batches,
   * whenever an LLM call is booked (the search's part stays the last batch's): a run killed
   * during an expansion must not resume with calls it has already spent.
   */
  private writeCheckpoint(): void {
    const base = this.lastCheckpoint ?? this.config.resume?.checkpoint;
    if (!base) return;
    // A run without LLMs keeps the LLM state it resumed from for the next run that has them.
    const llm = this.llm ? this.llm.snapshot() : base.llm;
    try {
      writeCheckpoint(this.config.workDir, { ...base, savedAt: new Date().toISOString(), ...(llm !== undefined ? { llm } : {}) });
    } catch (err) {
      // The run goes on: the database still holds every trial, and a resume rebuilds from it.
      if (!this.checkpointWarned) this.config.logger.warn(`cannot write the checkpoint: ${(err as Error).message}`);
      this.checkpointWarned = true;
    }
  }

  /** The untuned build's latency in µs; a failure here costs the comparison, not the run. */
  private async measureUntuned(watch: BridgeWatch, taskId: string): Promise<number | null> {
    const { options, logger } = this.config;
    try {
      const response = await watch.run(
        this.bridgeClient().measureUntuned({ task_id: taskId }, { deadlineMs: measureDeadlineMs(1, options.timeout) }),
      );
      const [outcome] = measureOutcomesFromProto(response);
      if (outcome?.ok && outcome.runSecs.length > 0) return mean(outcome.runSecs) * 1e6;
      logger.warn(`the untuned build could not be measured: ${outcome && !outcome.ok ? outcome.message : 'no result'}`);
    } catch (err) {
      if (err instanceof BridgeStoppedError) throw err;
      logger.warn(`the untuned build could not be measured: ${(err as Error).message}`);
    }
    return null;
  }

  /** Closes the task; a bridge that fails here has nothing left to lose. */
  async closeTask(): Promise<void> {
    const bridge = this.bridge;
    if (!bridge || !this.taskId) return;
    const watch = new BridgeWatch(bridge, this.config.workDir);
    await watch.run(bridge.client.closeTask({ task_id: this.taskId })).catch((err: unknown) => {
      this.config.logger.debug(`CloseTask failed: ${(err as Error).message}`);
    });
  }

  async stop(): Promise<void> {
    await this.bridge?.stop();
  }
}
