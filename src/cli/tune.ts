// `colt tune`: one tuning job from flags to database. Opens the task in the bridge, measures the
// untuned build for reference, runs the search with the built-in proposer, reports as it goes,
// and leaves colt-summary.json beside the database. The bridge's life (restarts, checkpoints,
// --resume) is the TuneSession's.
import path from 'node:path';
import { performance } from 'node:perf_hooks';

import type { StartBridgeOptions } from '../bridge';
import { findRepoRoot } from '../config/paths';
import {
  bundledModelPath,
  llmSearchWiring,
  modelKind,
  openDefaultBucket,
  openModelPool,
  type ModelPool,
  type ModelPoolOptions,
} from '../llm';
import type { Logger } from '../log';
import { BuiltinProposer } from '../search';
import { checkTuningRecords, loadResumePoint } from './checkpoint';
import { EXIT } from './errors';
import type { TuneOptions } from './options';
import { combineReporters, createReporter, type LineSink, type TaskInfo } from './reporters';
import { buildSummary, writeSummary } from './summary';
import { TuneSession } from './tune-session';
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

/** Runs one tuning job; resolves to the exit code (0, or 130/143 when interrupted). */
export async function tune(options: TuneOptions, io: TuneIO): Promise<number> {
  const started = performance.now();
  const { logger } = io;
  const workload = resolveWorkload(options.workload, io.cwd);
  const workDir = path.resolve(io.cwd, options.workDir);
  ensureWritableWorkDir(workDir);
  // --resume must continue the same workload on the same target; said before anything starts.
  const resume = options.resume ? { checkpoint: loadResumePoint(workDir, workload, options.target) } : undefined;
  const warmStartDir = options.tuningRecords ? checkTuningRecords(path.resolve(io.cwd, options.tuningRecords)) : undefined;
  const reporter = combineReporters([createReporter(options.json ? 'json' : 'table', io.out)]);

  // A bad models.json, key or endpoint, or a missing bundled model, stops the run here, before
  // any tuning starts. With no models file the default bucket runs: the built-in proposer and
  // the bundled local LLM (unless --no-llm).
  const poolOptions: ModelPoolOptions = { onEvent: (e) => reporter.onEvent(e), local: { onLog: (line) => logger.debug(line) } };
  const budget = { llmBudget: options.llmBudget };
  const opened = options.models
    ? await openModelPool(path.resolve(io.cwd, options.models), process.env, poolOptions, budget)
    : options.llm
      ? await openBundled(poolOptions, budget)
      : undefined;
  // A models file that lists only the built-in proposer asks for no LLM.
  const pool: ModelPool | undefined = opened && opened.llmNames.length > 0 ? opened : undefined;
  if (pool) logger.info(`LLMs: ${pool.llmNames.join(', ')} (largest: ${pool.largest})`);

  const interrupts = new Interrupts(logger);
  interrupts.install();
  const session = new TuneSession({
    options,
    workload,
    workDir,
    logger,
    bridge: io.bridge,
    resume,
    warmStartDir,
    onTask: (task) =>
      reporter.onTask({ workload: options.workload, workDir, maxTrials: options.trials, ...task, ...proposersOf(pool) }),
    onEvent: (event) => reporter.onEvent(event),
  });
  interrupts.onInterrupt(() => session.cancel());
  try {
    const wiring = pool ? llmSearchWiring(pool) : undefined;
    const tuned = await session.run({
      options: { maxTrials: options.trials, trialsPerIter: options.perIter, seed: options.seed, ...wiring?.searchOptions },
      proposers: wiring?.proposers ?? { builtin: new BuiltinProposer() },
    });
    if (!tuned) return exitCodeFor(interrupts.received);
    const { task, target, untunedLatencyUs, result } = tuned;

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
      bridgeRestarts: tuned.bridgeRestarts,
    });
    const summaryPath = writeSummary(workDir, summary);
    reporter.onSummary(summary, summaryPath);

    await session.closeTask();
    return exitCodeFor(interrupts.received);
  } finally {
    interrupts.uninstall();
    await session.stop();
    await opened?.close();
  }
}

/** The default bucket, its model named relative to the repository when it lies inside it. */
function openBundled(poolOptions: ModelPoolOptions, budget: { llmBudget?: number }): Promise<ModelPool> {
  const root = findRepoRoot(__dirname);
  const file = bundledModelPath(root);
  const inside = path.relative(root, file);
  const shown = inside.startsWith('..') || path.isAbsolute(inside) ? file : inside;
  return openDefaultBucket(file, poolOptions, { ...budget, shown });
}

/** Who proposes in this run, for the reporters. */
function proposersOf(pool: ModelPool | undefined): Pick<TaskInfo, 'proposers' | 'llmBudget'> {
  if (!pool) return { proposers: [{ name: 'builtin', kind: 'builtin' }], llmBudget: null };
  return {
    proposers: pool.config.models.map((m) => ({ name: m.name, kind: modelKind(m) })),
    llmBudget: pool.config.llmBudget ?? null,
  };
}
