// `colt tune`: one tuning job from flags to database. Opens the task in the bridge, measures the
// untuned build for reference, runs the search with the built-in proposer, reports as it goes,
// and leaves colt-summary.json beside the database.
import path from 'node:path';
import { performance } from 'node:perf_hooks';

import {
  BridgeError,
  BridgeErrorCode,
  BridgeScheduleSpace,
  measureDeadlineMs,
  measureOutcomesFromProto,
  startBridge,
  type BridgeExit,
  type BridgeProcess,
  type StartBridgeOptions,
} from '../bridge';
import { llmSearchWiring, openModelPool, type ModelPool } from '../llm';
import type { Logger } from '../log';
import { BuiltinProposer, Search, type SearchResult } from '../search';
import { BridgeStoppedError, EXIT, UsageError } from './errors';
import type { TuneOptions } from './options';
import { combineReporters, createReporter, type LineSink } from './reporters';
import { buildSummary, writeSummary } from './summary';
import type { TargetSpec } from './target';
import { ensureWritableWorkDir } from './work-dir';
import { resolveWorkload } from './workload';

export interface TuneIO {
  /** stdout, one call per line or block of lines. */
  out: LineSink;
  logger: Logger;
  cwd: string;
  /** Passed through to the bridge supervisor (tests point it elsewhere). */
  bridge?: Omit<StartBridgeOptions, 'logger'>;
}

/** How long a dropped connection may precede the exit it announces. */
const EXIT_AFTER_DROP_MS = 2_000;

/**
 * Turns the bridge dying into one BridgeStoppedError, whether we learn it from the process
 * exiting or from a call failing with UNAVAILABLE first.
 */
class BridgeWatch {
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

type StopSignal = 'SIGINT' | 'SIGTERM';

/** First SIGINT/SIGTERM: let the batch in flight finish. Second: leave now. */
class Interrupts {
  received: StopSignal | undefined;
  private readonly callbacks: Array<() => void> = [];
  private readonly handler = (sig: StopSignal): void => {
    if (this.received) {
      this.logger.warn('interrupted again: stopping now');
      // The supervisor's exit hook kills the bridge.
      process.exit(exitCodeFor(sig));
    }
    this.received = sig;
    this.logger.warn(`${sig}: finishing the batch in flight, then writing the summary (again to stop at once)`);
    for (const cb of this.callbacks) cb();
  };

  constructor(private readonly logger: Logger) {}

  install(): void {
    process.on('SIGINT', this.handler);
    process.on('SIGTERM', this.handler);
  }

  uninstall(): void {
    process.removeListener('SIGINT', this.handler);
    process.removeListener('SIGTERM', this.handler);
  }

  onInterrupt(cb: () => void): void {
    this.callbacks.push(cb);
    if (this.received) cb();
  }
}

function exitCodeFor(sig: StopSignal | undefined): number {
  if (sig === 'SIGINT') return EXIT.INTERRUPTED;
  if (sig === 'SIGTERM') return EXIT.TERMINATED;
  return EXIT.OK;
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

/** Runs one tuning job; resolves to the exit code (0, or 130/143 when interrupted). */
export async function tune(options: TuneOptions, io: TuneIO): Promise<number> {
  const started = performance.now();
  const { logger } = io;
  const workload = resolveWorkload(options.workload, io.cwd);
  const workDir = path.resolve(io.cwd, options.workDir);
  ensureWritableWorkDir(workDir);
  const reporter = combineReporters([createReporter(options.json ? 'json' : 'table', io.out)]);

  // A bad models.json, key or endpoint stops the run here, before any tuning starts.
  const pool: ModelPool | undefined = options.models
    ? await openModelPool(path.resolve(io.cwd, options.models), process.env, { onEvent: (e) => reporter.onEvent(e) })
    : undefined;
  if (pool) logger.info(`LLMs: ${pool.names.join(', ')} (largest: ${pool.largest})`);

  const interrupts = new Interrupts(logger);
  interrupts.install();
  let bridge: BridgeProcess | undefined;
  try {
    bridge = await startBridge({ ...io.bridge, logger });
    if (interrupts.received) return exitCodeFor(interrupts.received);
    const watch = new BridgeWatch(bridge, workDir);
    const { client } = bridge;

    const task = await watch
      .run(
        client.openTask({
          workload,
          target_json: JSON.stringify(options.target),
          work_dir: workDir,
          seed: options.seed,
          cost_model: options.costModel,
          measure: {
            number: options.number,
            repeat: options.repeat,
            min_repeat_ms: options.minRepeatMs,
            timeout_sec: options.timeout,
          },
        }),
      )
      .catch((err: unknown) => {
        // The bridge checked the workload, the target and the work dir: its words are the user's.
        if (err instanceof BridgeError && err.code === BridgeErrorCode.INVALID_ARGUMENT) throw new UsageError(err.message);
        throw err;
      });
    const target = parseTargetJson(task.target_json, options.target);
    logger.info(`task ${task.task_id} (${task.task_name}) open: ${task.flop} FLOP, ${task.design_spaces.length} design spaces`);

    const untunedLatencyUs = await measureUntuned(watch, bridge, task.task_id, options.timeout, logger);
    reporter.onTask({
      workload: options.workload,
      taskName: task.task_name,
      flop: task.flop,
      target,
      workDir,
      maxTrials: options.trials,
      untunedLatencyUs,
    });

    const space = new BridgeScheduleSpace(
      client,
      task.task_id,
      task.mutators.map((m) => ({ name: m.name, probability: m.probability })),
      { measureDeadlineMs: (n) => measureDeadlineMs(n, options.timeout) },
    );
    const wiring = pool ? llmSearchWiring(pool) : undefined;
    const search = new Search(
      { maxTrials: options.trials, trialsPerIter: options.perIter, seed: options.seed, ...wiring?.searchOptions },
      {
        space,
        proposers: wiring?.proposers ?? { builtin: new BuiltinProposer() },
        clock: () => performance.now(),
      },
    );
    interrupts.onInterrupt(() => search.cancel());
    const result: SearchResult = await watch.run(search.run((event) => reporter.onEvent(event)));

    const summary = buildSummary({
      workload: options.workload,
      taskName: task.task_name,
      target,
      flop: task.flop,
      maxTrials: options.trials,
      untunedLatencyUs,
      seed: options.seed,
      costModel: options.costModel,
      trialsPerIter: options.perIter,
      workDir,
      measure: {
        number: options.number,
        repeat: options.repeat,
        minRepeatMs: options.minRepeatMs,
        timeoutSec: options.timeout,
      },
      result,
      llm: pool ? pool.summary() : null,
      wallSec: (performance.now() - started) / 1000,
      now: new Date(),
    });
    const summaryPath = writeSummary(workDir, summary);
    reporter.onSummary(summary, summaryPath);

    await watch.run(client.closeTask({ task_id: task.task_id })).catch((err: unknown) => {
      logger.debug(`CloseTask failed: ${(err as Error).message}`);
    });
    return exitCodeFor(interrupts.received);
  } finally {
    interrupts.uninstall();
    await bridge?.stop();
  }
}

/** The untuned build's latency in µs; a failure here costs the comparison, not the run. */
async function measureUntuned(
  watch: BridgeWatch,
  bridge: BridgeProcess,
  taskId: string,
  timeoutSec: number,
  logger: Logger,
): Promise<number | null> {
  try {
    const response = await watch.run(
      bridge.client.measureUntuned({ task_id: taskId }, { deadlineMs: measureDeadlineMs(1, timeoutSec) }),
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
