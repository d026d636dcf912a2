// A TUNE job: one workload tuned end to end, from validated options to the database and
// colt-summary.json. Opens the models, runs the tuning session (src/tuning/: bridge, task,
// untuned reference, search, checkpoints, restarts) and reports everything to the job.
// `colt tune` and the daemon's Tune both run this.
import path from 'node:path';
import { performance } from 'node:perf_hooks';

import { BridgeTaskHost, type StartBridgeOptions, type StartTaskHost } from '../bridge';
import { findRepoRoot } from '../config/paths';
import { Code, ColtError } from '../errors';
import {
  bucketFiles,
  DEFAULT_BUCKET_NAME,
  llmSearchWiring,
  modelKind,
  openBucket,
  openModelPool,
  type BucketName,
  type ModelPool,
  type ModelPoolOptions,
} from '../llm';
import type { Logger } from '../log';
import { NO_COST_MODEL_FILE, type TuneOptions } from '../options/tune';
import { resolveWorkload } from '../options/workload';
import type { TaskInfo } from '../reporters';
import { BuiltinProposer } from '../search';
import { checkTuningRecords, loadResumePoint } from '../tuning/checkpoint';
import { moveRunAside, runFilesIn, WorkDirLock } from '../tuning/lock';
import { TuneSession } from '../tuning/session';
import { buildSummary, writeSummary } from '../tuning/summary';
import { ensureWritableWorkDir } from '../tuning/work-dir';
import type { Job } from './job';

export interface JobEnv {
  logger: Logger;
  /** What relative paths (workload files, work dirs, models.json) are relative to. */
  cwd: string;
  /** Environment variables the models' keys are read from. */
  env?: NodeJS.ProcessEnv;
  /** Passed through to the bridge supervisor (tests point it elsewhere). */
  bridge?: Omit<StartBridgeOptions, 'logger'>;
  /** What serves a TUNE job's task; by default a bridge process of its own, started with `bridge`. */
  startHost?: StartTaskHost;
}

/** Runs the tuning job to its end; throws what stops it (the job machinery records it). */
export async function runTuneJob(given: TuneOptions, env: JobEnv, job: Job): Promise<void> {
  const started = performance.now();
  const workload = resolveWorkload(given.workload, env.cwd);
  // The bridge runs elsewhere: it is given the file's absolute path.
  const options =
    given.costModelFile && given.costModelFile !== NO_COST_MODEL_FILE ? { ...given, costModelFile: path.resolve(env.cwd, given.costModelFile) } : given;
  const workDir = path.resolve(env.cwd, options.workDir);
  ensureWritableWorkDir(workDir);
  const lock = WorkDirLock.acquire(workDir);
  try {
    await tuneInWorkDir(options, env, job, { workload, workDir, started });
  } finally {
    lock.release();
  }
}

/** The run, once the work dir is ours alone. */
async function tuneInWorkDir(
  options: TuneOptions,
  env: JobEnv,
  job: Job,
  { workload, workDir, started }: { workload: string; workDir: string; started: number },
): Promise<void> {
  const { logger } = env;
  // A fresh run never writes over an earlier one: the user carries it on, or moves it aside.
  const earlier = options.resume ? [] : runFilesIn(workDir);
  if (earlier.length > 0 && !options.force) {
    throw new ColtError(
      Code.FailedPrecondition,
      `work dir ${workDir} holds a run already (${earlier.join(', ')}): --resume carries it on, --force moves it aside`,
    );
  }
  if (earlier.length > 0) logger.warn(`--force: the run that was in ${workDir} is now in ${moveRunAside(workDir)}`);
  // --resume must continue the same workload on the same target; said before anything starts.
  const resume = options.resume ? { checkpoint: loadResumePoint(workDir, workload, options.target) } : undefined;
  const warmStartDir = options.tuningRecords ? checkTuningRecords(path.resolve(env.cwd, options.tuningRecords)) : undefined;

  // A bad models.json, key or endpoint, or a missing bundled model, stops the run here, before
  // any tuning starts. With no models file the default bucket runs: the built-in proposer and
  // the bundled local LLM (unless --no-llm).
  const poolOptions: ModelPoolOptions = { onEvent: (e) => job.onEvent(e), local: { onLog: (line) => logger.debug(line) } };
  const pool = await openPoolFor(options, env, poolOptions);
  if (pool) logger.info(`LLMs: ${pool.llmNames.join(', ')} (largest: ${pool.largest})`);
  try {
    if (pool) job.setUsageSource(() => pool.summary());
    const session = new TuneSession({
      options,
      workload,
      workDir,
      logger,
      // The bridge and its build workers never see the models' keys.
      startHost: env.startHost ?? (() => BridgeTaskHost.start({ ...env.bridge, logger, withoutEnv: apiKeyVariables(pool) })),
      resume,
      warmStartDir,
      onTask: (task) => job.onTask({ workload: options.workload, workDir, maxTrials: options.trials, ...task, ...proposersOf(pool) }),
      onEvent: (event) => job.onEvent(event),
    });
    job.onCancel(() => session.cancel());
    try {
      const wiring = pool ? llmSearchWiring(pool, { trialsPerIter: options.perIter }) : undefined;
      const tuned = await session.run({
        options: { maxTrials: options.trials, trialsPerIter: options.perIter, seed: options.seed, ...wiring?.searchOptions },
        proposers: wiring?.proposers ?? { builtin: new BuiltinProposer() },
        llm: wiring?.state,
      });
      if (!tuned) return;
      const { taskName, flop, target, untunedLatencyUs, costModelFile, result } = tuned;
      const summary = buildSummary({
        workload: options.workload,
        taskName,
        target,
        flop,
        maxTrials: options.trials,
        untunedLatencyUs,
        seed: options.seed,
        costModel: options.costModel,
        costModelFile: costModelFile ?? undefined,
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
      job.onSummary(summary, summaryPath);
      await session.closeTask();
    } finally {
      await session.stop();
    }
  } finally {
    await pool?.close();
  }
}

/** The models of a run: a models file, a bucket by name (default: offline), or none (the built-in proposer). */
export async function openPoolFor(
  options: Pick<TuneOptions, 'models' | 'llm' | 'llmBudget'> & { bucket?: BucketName },
  env: Pick<JobEnv, 'cwd' | 'env'>,
  poolOptions: ModelPoolOptions,
): Promise<ModelPool | undefined> {
  const budget = { llmBudget: options.llmBudget };
  const opened = options.models
    ? await openModelPool(path.resolve(env.cwd, options.models), env.env ?? process.env, poolOptions, budget)
    : options.llm
      ? await openNamedBucket(options.bucket ?? DEFAULT_BUCKET_NAME, env.env ?? process.env, poolOptions, budget)
      : undefined;
  // A models file that lists only the built-in proposer asks for no LLM.
  if (opened && opened.llmNames.length === 0) {
    await opened.close();
    return undefined;
  }
  return opened;
}

/** A bucket over the models folder, its files named relative to the repository when they lie inside it. */
function openNamedBucket(name: BucketName, env: NodeJS.ProcessEnv, poolOptions: ModelPoolOptions, budget: { llmBudget?: number }): Promise<ModelPool> {
  const root = findRepoRoot(__dirname);
  const shown = (file: string) => {
    const inside = path.relative(root, file);
    return inside.startsWith('..') || path.isAbsolute(inside) ? file : inside;
  };
  return openBucket(name, bucketFiles(root, env), poolOptions, { ...budget, shown });
}

/** The environment variables the run's models read their keys from. */
function apiKeyVariables(pool: ModelPool | undefined): string[] {
  return (pool?.config.models ?? []).flatMap((m) => (m.apiKeyEnv === undefined ? [] : [m.apiKeyEnv]));
}

/** Who proposes in this run, for the reporters. */
export function proposersOf(pool: ModelPool | undefined): Pick<TaskInfo, 'proposers' | 'llmBudget'> {
  if (!pool) return { proposers: [{ name: 'builtin', kind: 'builtin' }], llmBudget: null };
  return {
    proposers: pool.config.models.map((m) => ({ name: m.name, kind: modelKind(m) })),
    llmBudget: pool.config.llmBudget ?? null,
  };
}
