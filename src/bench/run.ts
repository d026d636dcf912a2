// `colt bench`: COLT against MetaSchedule on this machine. Runs every (workload, strategy, seed)
// once at the largest budget, interleaved, each in its own process and work dir; reads each
// run's tuning curve from its database; re-measures the best schedules under one setting beside
// numpy/OpenBLAS; writes bench.json (after every run, so a crash keeps what was done) and
// report.html.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

import { findRepoRoot } from '../config/paths';
import { Code, ColtError } from '../errors';
import { BENCH_DEFAULTS, PRETRAINED_STRATEGIES, type BenchOptions, type StrategyName } from '../options/bench';
import { resolveWorkload } from '../options/workload';
import { Interrupts } from '../process/interrupts';
import { makeDirs } from '../tuning/work-dir';
import { stopAllChildren } from './child';
import { bestCurve, bestRecordWithin, curveAt, trialsFromRecords } from './curve';
import { isColt } from './analysis';
import { describeMachine } from './machine';
import { planRuns, type PlannedRun } from './plan';
import { Progress, type ProgressSink } from './progress';
import { BLAS_KERNEL_VARS, remeasure } from './remeasure';
import { summaryLines, writeReport } from './report';
import { BENCH_VERSION, loadBench, writeBench, type BenchResult, type BenchRun } from './result';
import { createRunner, repoTools, type CommonSettings, type Runner, type RunnerEnv } from './strategies';

export interface BenchIO {
  /** stdout: the closing summary. */
  out: (line: string) => void;
  /** stderr: progress. */
  progress: ProgressSink;
  cwd: string;
  /** The command line, for the record. */
  argv: string[];
  /** Where .venv/, dist/ and scripts/ are; found from this file by default. */
  repoRoot?: string;
  now?: () => Date;
}

const DB_RECORDS = 'database_tuning_record.json';
const POLL_MS = 1_000;

function readTrials(workDir: string): ReturnType<typeof trialsFromRecords> {
  const file = path.join(workDir, DB_RECORDS);
  return fs.existsSync(file) ? trialsFromRecords(fs.readFileSync(file, 'utf8')) : [];
}

function countLines(file: string): number {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').filter((l) => l.trim() !== '').length;
  } catch {
    return 0;
  }
}

/** Whether this build's `colt tune` has `--no-llm` (the LLM work adds it). */
function coltHasNoLlmFlag(repoRoot: string): boolean {
  try {
    const help = execFileSync(process.execPath, [repoTools(repoRoot).colt, 'tune', '--help'], { cwd: repoRoot, encoding: 'utf8' });
    return /--no-llm\b/.test(help);
  } catch {
    return false;
  }
}

function checkSetup(repoRoot: string, options: BenchOptions): void {
  const { python, colt } = repoTools(repoRoot);
  if (!fs.existsSync(python)) throw new ColtError(Code.FailedPrecondition, `no Python environment at ${python}: run scripts/setup first`);
  if (options.strategies.some((s) => s.startsWith('colt')) && !fs.existsSync(colt)) {
    throw new ColtError(Code.FailedPrecondition, `the CLI is not compiled (${colt} is missing): run scripts/setup or npm run build first`);
  }
}

/**
 * What decides how fast the contenders run, recorded in bench.json. The tuning runs get
 * OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE as found; the re-measurement runs without them.
 */
const BENCH_ENV_KEYS = ['TVM_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'] as const;

/** The environment every child gets: the same thread count for TVM, OpenBLAS and OpenMP. */
export function benchEnv(base: NodeJS.ProcessEnv, numCores: number): NodeJS.ProcessEnv {
  const n = String(numCores);
  return { ...base, TVM_NUM_THREADS: n, OPENBLAS_NUM_THREADS: n, OMP_NUM_THREADS: n };
}

/**
 * How long one run may take before its process group is killed: generous, so that only a hung
 * run meets it. 15 minutes to start (a bridge, a cold LLM), then per trial its build and run
 * timeouts and 30 s more (an LLM call, the search).
 */
export function runTimeoutSec(trials: number, measureTimeoutSec: number): number {
  return 900 + trials * (2 * measureTimeoutSec + 30);
}

function emptyRun(p: PlannedRun, budgets: number[]): BenchRun {
  return {
    id: p.id,
    workload: p.workload,
    strategy: p.strategy,
    seed: p.seed,
    order: p.order,
    workDir: p.workDir,
    status: 'skipped',
    trials: 0,
    trialLatenciesUs: [],
    curveUs: [],
    wallSeconds: {},
    atBudget: Object.fromEntries(budgets.map((b) => [String(b), { record: null, tuningUs: null, remeasured: null }])),
    llm: null,
  };
}

/** A workload as the runs are given it: a file relative to the user's directory made absolute; one line if it is not there. */
function benchWorkload(spec: string, cwd: string): string {
  try {
    return resolveWorkload(spec, cwd);
  } catch (err) {
    if (err instanceof ColtError) throw new ColtError(Code.InvalidArgument, `--workloads: ${err.message}`);
    throw err;
  }
}

/** Runs the bench; resolves to the bench dir. Throws (INTERNAL) if any run failed, after writing the others' results. */
export async function bench(options: BenchOptions, io: BenchIO): Promise<string> {
  const now = io.now ?? (() => new Date());
  const repoRoot = io.repoRoot ?? findRepoRoot(__dirname);
  checkSetup(repoRoot, options);
  const outDir = path.resolve(io.cwd, options.out);
  // The runs load their workloads in the repository: a file is named to them by its absolute path.
  const workloads = options.workloads.map((spec) => benchWorkload(spec, io.cwd));

  const notes: string[] = [];
  const target = { ...options.target };
  const numCores = Number(target['num-cores']);
  const env = benchEnv(process.env, numCores);
  const { machine, workloadErrors } = await describeMachine(repoRoot, env, workloads);
  const refused = Object.entries(workloadErrors);
  if (refused.length > 0) {
    // Before any run, one line: every run of a workload that cannot be loaded would fail alike.
    throw new ColtError(Code.InvalidArgument, `--workloads: ${refused[0][1]}${refused.length > 1 ? ` (and ${refused.length - 1} more)` : ''}`);
  }
  makeDirs(outDir);
  if (options.targetIsShorthand && target.mcpu === undefined && machine.llvmHostCpu) {
    // TVM's llvm target without mcpu compiles for generic x86-64 (SSE2): no AVX, no FMA, while
    // numpy's BLAS uses them. Tune for this CPU, as a user would.
    target.mcpu = machine.llvmHostCpu;
    notes.push(`target: mcpu ${machine.llvmHostCpu} (this CPU, as LLVM names it) added to the llvm shorthand; without it TVM compiles for generic x86-64.`);
  }
  const noLlm = options.strategies.includes('colt-no-llm') || options.strategies.includes('colt-no-llm-pretrained');
  const hasNoLlmFlag = noLlm ? coltHasNoLlmFlag(repoRoot) : false;
  if (options.strategies.includes('colt')) {
    notes.push(options.models ? `colt: colt tune --models ${options.models}` : 'colt: colt tune with its default models (no --models given).');
  }
  if (options.strategies.includes('colt-no-llm')) {
    notes.push(
      hasNoLlmFlag
        ? 'colt-no-llm: colt tune --no-llm, the built-in proposer alone.'
        : 'colt-no-llm: this build of colt tune has no --no-llm flag (nor a default LLM): it ran as plain colt tune.',
    );
  }
  if (options.costModelFile) {
    const which = options.strategies.filter((s) => PRETRAINED_STRATEGIES.includes(s)).join(', ');
    notes.push(
      `${which}: the same as without -pretrained, plus --cost-model-file ${options.costModelFile}; the other COLT strategies ran with --cost-model-file none.`,
    );
  } else if (options.strategies.some(isColt)) {
    notes.push('COLT strategies: colt tune\'s default cost model, xgb beside the cost model bundled with the bridge (x86-64).');
  }
  notes.push(
    'evolutionary / replay-trace: stock ms.tune_tir, with the same workload loader, target, evaluator settings and warm build pool as the COLT bridge (scripts/bench/ms_tune.py).',
  );

  const budgets = options.budgets;
  const maxTrials = budgets[budgets.length - 1];
  const seeds = Array.from({ length: options.seeds }, (_, i) => i);
  const planned = planRuns(workloads, options.strategies, seeds);
  const common: CommonSettings = {
    target,
    perIter: options.perIter,
    number: options.number,
    repeat: options.repeat,
    minRepeatMs: options.minRepeatMs,
    timeout: options.timeout,
    costModel: options.costModel,
    models: options.models ? path.resolve(io.cwd, options.models) : undefined,
    costModelFile: options.costModelFile ? path.resolve(io.cwd, options.costModelFile) : undefined,
  };
  const runnerEnv: RunnerEnv = { repoRoot, env, hasNoLlmFlag };
  const runTimeout = options.runTimeout ?? runTimeoutSec(maxTrials, options.timeout);

  const result: BenchResult = {
    version: BENCH_VERSION,
    status: 'running',
    startedAt: now().toISOString(),
    finishedAt: null,
    command: ['colt', ...io.argv].join(' '),
    machine,
    settings: {
      target,
      numCores,
      budgets,
      seeds,
      strategies: options.strategies,
      perIter: options.perIter,
      measure: { number: options.number, repeat: options.repeat, minRepeatMs: options.minRepeatMs, timeoutSec: options.timeout },
      costModel: options.costModel,
      // Only when given: parts of a suite run before it existed still merge with later ones.
      ...(common.costModelFile ? { costModelFile: common.costModelFile } : {}),
      models: options.models ?? null,
      remeasure: { rounds: options.remeasureRounds, repeat: options.remeasureRepeat, minRepeatMs: options.remeasureMinRepeatMs },
      runTimeoutSec: runTimeout,
      env: Object.fromEntries(BENCH_ENV_KEYS.map((k) => [k, env[k] ?? null])),
      order: 'per workload, seed after seed, strategies taking turns (rotated each seed)',
    },
    workloads: workloads.map((spec) => ({ spec, task: null, flop: null, matmulLike: false, blas: null })),
    runs: planned.map((p) => emptyRun(p, budgets)),
    notes,
  };
  writeBench(outDir, result);

  const progress = new Progress(io.progress, planned.length, maxTrials);
  const stop = new Interrupts();
  stop.install();
  // Each run leads its own process group, out of the terminal's reach: pass the signal on
  // (SIGTERM: colt tune winds down and saves, ms.tune_tir stops).
  stop.onInterrupt(() => void stopAllChildren());
  try {
    for (const p of planned) {
      // The run in flight got the signal too: it has wound down by now.
      if (stop.received) break;
      const runner = createRunner(p.strategy as StrategyName, runnerEnv, common);
      await executeRun(p, result.runs[p.order], { outDir, budgets, maxTrials, progress, runner, stop, timeoutMs: runTimeout * 1000 });
      writeBench(outDir, result);
    }
  } finally {
    stop.uninstall();
    await stopAllChildren();
  }

  if (stop.received) {
    result.status = 'interrupted';
    result.finishedAt = now().toISOString();
    const benchFile = writeBench(outDir, result);
    writeReport(outDir, result);
    throw new ColtError(
      stop.received === 'SIGINT' ? Code.Interrupted : Code.Terminated,
      `interrupted (${stop.received}): the runs done so far are in ${benchFile} and its report`,
    );
  }

  const benchFile = await remeasureAndWrite(result, result.settings.remeasure, {
    repoRoot,
    outDir,
    env,
    progress,
    out: io.out,
    finishedAt: () => now().toISOString(),
  });

  const failed = result.runs.filter((r) => r.status === 'failed').length;
  if (failed > 0) {
    throw new ColtError(
      Code.Internal,
      `${failed} of ${result.runs.length} bench runs failed (their errors are in ${benchFile}); the report shows the rest`,
    );
  }
  return outDir;
}

/** The final re-measurement, then bench.json, report.html and the summary lines on stdout. */
async function remeasureAndWrite(
  result: BenchResult,
  settings: BenchResult['settings']['remeasure'],
  io: {
    repoRoot: string;
    outDir: string;
    env: NodeJS.ProcessEnv;
    progress: ProgressLike;
    out: (line: string) => void;
    /** A new bench's finishing time; a re-measured one keeps its own. */
    finishedAt?: () => string;
  },
): Promise<string> {
  io.progress.phase('re-measuring every best schedule under one setting, beside numpy/OpenBLAS');
  for (const run of result.runs) for (const at of Object.values(run.atBudget)) at.remeasured = null;
  try {
    await remeasure(result, settings, { repoRoot: io.repoRoot, outDir: io.outDir, env: io.env, onProgress: (line) => io.progress.phase(line) });
  } catch (err) {
    result.notes.push(`re-measurement failed, so the tables use tuning-time measurements: ${(err as Error).message}`);
  }
  for (const w of result.workloads) w.matmulLike = w.blas !== null;
  result.settings.remeasure = settings;
  result.notes = result.notes.filter((n) => !n.startsWith("numpy's OpenBLAS"));
  if (result.workloads.some((w) => w.matmulLike)) {
    const kernels = (result.settings.blasRuntime ?? [])
      .filter((b) => b.user_api === 'blas')
      .map((b) => `${String(b.internal_api)} ${String(b.version)}, kernel ${String(b.architecture ?? 'unknown')}, ${String(b.num_threads)} threads`);
    const unset = BLAS_KERNEL_VARS.filter((k) => io.env[k] !== undefined).map((k) => `${k}=${io.env[k]}`);
    result.notes.push(
      `numpy's OpenBLAS in the re-measurement: ${kernels.length > 0 ? kernels.join('; ') : 'kernel not recorded'}` +
        `${unset.length > 0 ? ` (${unset.join(', ')} unset there; the tuning runs kept them)` : ''}; ` +
        `TVM compiled for ${String(result.settings.target.mcpu ?? 'generic x86-64')}.`,
    );
  }
  result.status = 'done';
  if (io.finishedAt) result.finishedAt = io.finishedAt();
  const benchFile = writeBench(io.outDir, result);
  const reportFile = writeReport(io.outDir, result);
  io.progress.phase(`wrote ${benchFile} and ${reportFile}`);
  for (const line of summaryLines(result)) io.out(line);
  io.out(`Report: ${reportFile}`);
  return benchFile;
}

type ProgressLike = Pick<Progress, 'phase'>;

/**
 * `colt report DIR --remeasure`: the final re-measurement again, on a finished bench, e.g. after
 * the machine was busy during the first one. The tuning runs are not repeated.
 */
export async function remeasureBench(
  dir: string,
  io: { out: (line: string) => void; progress: ProgressSink; repoRoot?: string; now?: () => Date },
): Promise<string> {
  const { bench: result, dir: outDir } = loadBench(dir);
  if (result.status !== 'done') throw new ColtError(Code.InvalidArgument, `${outDir}: the bench did not finish (${result.status}): run it again`);
  const repoRoot = io.repoRoot ?? findRepoRoot(__dirname);
  if (!fs.existsSync(repoTools(repoRoot).python)) throw new ColtError(Code.FailedPrecondition, `no Python environment at ${repoTools(repoRoot).python}: run scripts/setup first`);
  const settings = { rounds: BENCH_DEFAULTS.remeasureRounds, repeat: BENCH_DEFAULTS.remeasureRepeat, minRepeatMs: BENCH_DEFAULTS.remeasureMinRepeatMs };
  const progress: ProgressLike = { phase: (text) => io.progress.write(`bench: ${text}\n`) };
  const when = (io.now ?? (() => new Date()))().toISOString();
  result.notes = result.notes.filter((n) => !n.startsWith('re-measured again at '));
  result.notes.push(`re-measured again at ${when} (colt report --remeasure); the tuning runs are those of ${result.startedAt}.`);
  await remeasureAndWrite(result, settings, { repoRoot, outDir, env: benchEnv(process.env, result.settings.numCores), progress, out: io.out });
  return outDir;
}

/** One run into its own fresh work dir; its curve is read back from the database it left. */
async function executeRun(
  p: PlannedRun,
  run: BenchRun,
  ctx: { outDir: string; budgets: number[]; maxTrials: number; progress: Progress; runner: Runner; stop: Interrupts; timeoutMs: number },
): Promise<void> {
  const workDir = path.join(ctx.outDir, p.workDir);
  // The run's own folder under the bench dir: a fresh database, never appended to.
  fs.rmSync(workDir, { recursive: true, force: true });
  makeDirs(workDir);
  ctx.progress.startRun(`${p.workload} ${p.strategy} seed ${p.seed}`);
  const started = performance.now();
  const seen: number[] = [];
  const poll = setInterval(() => {
    const n = countLines(path.join(workDir, DB_RECORDS));
    const at = (performance.now() - started) / 1000;
    while (seen.length < n) seen.push(at);
    ctx.progress.update(n);
  }, POLL_MS);
  const loadAtStart = os.loadavg()[0];
  try {
    const output = await ctx.runner.run({ workload: p.workload, seed: p.seed, trials: ctx.maxTrials, workDir, timeoutMs: ctx.timeoutMs });
    run.status = 'ok';
    run.wallSeconds = { ...output.wallSeconds };
    run.llm = output.llm;
    run.untunedUs = output.untunedUs;
  } catch (err) {
    if (!(err instanceof ColtError)) throw err;
    run.status = 'failed';
    run.error = ctx.stop.received ? `interrupted (${ctx.stop.received})` : err.message;
  } finally {
    clearInterval(poll);
  }
  run.wallSeconds.process = (performance.now() - started) / 1000;
  run.loadAvg = { start: loadAtStart, end: os.loadavg()[0] };
  // A failed run keeps whatever it recorded before it failed.
  run.trialLatenciesUs = readTrials(workDir);
  run.trials = run.trialLatenciesUs.length;
  // Records written after the last poll were seen when the run ended.
  while (seen.length < run.trials) seen.push(run.wallSeconds.process);
  run.recordSeenSec = seen.slice(0, run.trials).map((t) => Number(t.toFixed(2)));
  if (run.recordSeenSec.length > 0) run.wallSeconds.firstRecord = run.recordSeenSec[0];
  run.curveUs = bestCurve(run.trialLatenciesUs);
  for (const b of ctx.budgets) {
    run.atBudget[String(b)] = { record: bestRecordWithin(run.trialLatenciesUs, b), tuningUs: curveAt(run.curveUs, b), remeasured: null };
  }
  const best = run.curveUs.at(-1);
  ctx.progress.endRun(run.status === 'ok' ? `${run.trials} trials, best ${best != null ? `${best.toFixed(1)} us` : 'none'}` : `FAILED: ${run.error}`);
}
