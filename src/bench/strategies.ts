// The contenders, each run as a child process into its own work dir: COLT through its own CLI
// (`colt tune --json`), MetaSchedule's stock strategies through `ms.tune_tir`
// (scripts/bench/ms_tune.py). Both load the workload with the bridge's loader, build on the same
// warm build pool, and run with MetaSchedule's LocalRunner under the same evaluator settings.
import fs from 'node:fs';
import path from 'node:path';

import { Code, ColtError } from '../errors';
import { bucketFiles, largestAloneDocument } from '../llm';
import type { StrategyName } from '../options/bench';
import type { TargetSpec } from '../options/target';
import { describeFailure, lastJsonLine, runChild } from './child';
import type { BenchRun } from './result';

/** What every run of a bench shares. */
export interface CommonSettings {
  target: TargetSpec;
  perIter: number;
  number: number;
  repeat: number;
  minRepeatMs: number;
  timeout: number;
  costModel: string;
  /** models.json for the `colt` strategy (absolute), if any. */
  models?: string;
  /**
   * A cost model trained beforehand (absolute), for the `-pretrained` strategies; given, the other
   * COLT strategies run with none. Not given, every COLT strategy scores as colt tune does by
   * default (beside the bundled cost model). MetaSchedule's runs keep their stock model.
   */
  costModelFile?: string;
}

export interface RunSpec {
  workload: string;
  seed: number;
  trials: number;
  /** Absolute; created fresh by the caller. */
  workDir: string;
  /** The run's process group is killed once it has run this long. */
  timeoutMs?: number;
}

export interface RunOutput {
  wallSeconds: Record<string, number>;
  llm: BenchRun['llm'];
  untunedUs: number | null;
}

/** A run that did not finish; the message is one line. Every ColtError a runner throws is one. */
function runFailed(message: string): ColtError {
  return new ColtError(Code.Internal, message);
}

export interface Runner {
  run(spec: RunSpec): Promise<RunOutput>;
}

export interface RunnerEnv {
  repoRoot: string;
  /** The environment every child gets (thread counts pinned by the caller). */
  env: NodeJS.ProcessEnv;
  /** `colt tune --no-llm` exists in this build. */
  hasNoLlmFlag: boolean;
}

/** The environment's Python and the compiled CLI, both found from the repository root. */
export function repoTools(repoRoot: string): { python: string; colt: string; scripts: string } {
  return {
    python: path.join(repoRoot, '.venv', 'bin', 'python'),
    colt: path.join(repoRoot, 'dist', 'cli', 'main.js'),
    scripts: path.join(repoRoot, 'scripts', 'bench'),
  };
}

function measureFlags(s: CommonSettings): string[] {
  return [
    '--per-iter', String(s.perIter),
    '--number', String(s.number),
    '--repeat', String(s.repeat),
    '--min-repeat-ms', String(s.minRepeatMs),
    '--timeout', String(s.timeout),
    '--cost-model', s.costModel,
  ];
}

interface ColtSummaryFile {
  untunedLatencyUs?: number | null;
  wallSeconds?: Record<string, number>;
  llm?: {
    perModel: Record<string, { calls: number; promptTokens: number; completionTokens: number; costUsd: number; waitMs?: number }>;
    totals: { calls: number; promptTokens: number; completionTokens: number; costUsd: number };
    smallModelShare?: number | null;
  } | null;
}

/**
 * Which models a COLT run asks: its default (or --models), none, the offline-3 bucket, or
 * Qwen2.5-Coder-1.5B alone (the single-largest-LLM baseline, a models.json written beside the runs).
 */
type ColtModels = 'default' | 'none' | 'offline-3' | 'qwen';

class ColtRunner implements Runner {
  constructor(
    private readonly env: RunnerEnv,
    private readonly settings: CommonSettings,
    private readonly models: ColtModels,
    /** Score with settings.costModelFile (a `-pretrained` strategy). */
    private readonly pretrained = false,
  ) {}

  private modelFlags(spec: RunSpec): string[] {
    switch (this.models) {
      case 'none':
        return this.env.hasNoLlmFlag ? ['--no-llm'] : [];
      case 'offline-3':
        return ['--bucket', 'offline-3'];
      case 'qwen': {
        const file = path.join(path.dirname(spec.workDir), 'qwen-alone.models.json');
        fs.writeFileSync(file, `${JSON.stringify(largestAloneDocument(bucketFiles(this.env.repoRoot, this.env.env)), null, 2)}\n`);
        return ['--models', file];
      }
      default:
        return this.settings.models ? ['--models', this.settings.models] : [];
    }
  }

  async run(spec: RunSpec): Promise<RunOutput> {
    const { colt } = repoTools(this.env.repoRoot);
    const args = [
      colt, 'tune',
      '--workload', spec.workload,
      '--target', JSON.stringify(this.settings.target),
      '--trials', String(spec.trials),
      '--seed', String(spec.seed),
      '--work-dir', spec.workDir,
      ...measureFlags(this.settings),
      '--json',
    ];
    args.push(...this.modelFlags(spec));
    if (this.pretrained) {
      if (!this.settings.costModelFile) throw runFailed('a -pretrained strategy needs --cost-model-file');
      args.push('--cost-model-file', this.settings.costModelFile);
    } else if (this.settings.costModelFile) {
      // An A/B of the file: its plain counterpart scores with none, not the bundled one.
      args.push('--cost-model-file', 'none');
    }
    const result = await runChild(process.execPath, args, { cwd: this.env.repoRoot, env: this.env.env, timeoutMs: spec.timeoutMs });
    if (result.code !== 0) throw runFailed(describeFailure('colt tune', result));
    const summaryFile = path.join(spec.workDir, 'colt-summary.json');
    let summary: ColtSummaryFile;
    try {
      summary = JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as ColtSummaryFile;
    } catch (err) {
      throw runFailed(`colt tune left no readable ${summaryFile}: ${(err as Error).message}`);
    }
    const llm = summary.llm
      ? {
          perModel: Object.fromEntries(
            Object.entries(summary.llm.perModel).map(([name, m]) => [
              name,
              { calls: m.calls, promptTokens: m.promptTokens, completionTokens: m.completionTokens, costUsd: m.costUsd },
            ]),
          ),
          totals: summary.llm.totals,
          smallModelShare: summary.llm.smallModelShare ?? null,
        }
      : null;
    const wallSeconds = { ...(summary.wallSeconds ?? {}) };
    // Time spent waiting on LLMs: inside the summary's `search` time, kept apart for the overhead figure.
    if (summary.llm) wallSeconds.llmWait = Object.values(summary.llm.perModel).reduce((a, m) => a + (m.waitMs ?? 0), 0) / 1000;
    return { wallSeconds, llm, untunedUs: summary.untunedLatencyUs ?? null };
  }
}

class MetaScheduleRunner implements Runner {
  constructor(
    private readonly env: RunnerEnv,
    private readonly settings: CommonSettings,
    private readonly strategy: 'evolutionary' | 'replay-trace',
  ) {}

  async run(spec: RunSpec): Promise<RunOutput> {
    const { python, scripts } = repoTools(this.env.repoRoot);
    const args = [
      path.join(scripts, 'ms_tune.py'),
      '--workload', spec.workload,
      '--strategy', this.strategy,
      '--target', JSON.stringify(this.settings.target),
      '--trials', String(spec.trials),
      '--seed', String(spec.seed),
      '--work-dir', spec.workDir,
      ...measureFlags(this.settings),
    ];
    const result = await runChild(python, args, { cwd: this.env.repoRoot, env: this.env.env, captureStdout: true, timeoutMs: spec.timeoutMs });
    const answer = lastJsonLine<{ wallSeconds?: Record<string, number> }>(result.stdout);
    if (result.code !== 0 || !answer) throw runFailed(describeFailure(`ms.tune_tir (${this.strategy})`, result));
    return { wallSeconds: answer.wallSeconds ?? {}, llm: null, untunedUs: null };
  }
}

export function createRunner(strategy: StrategyName, env: RunnerEnv, settings: CommonSettings): Runner {
  switch (strategy) {
    case 'colt':
      return new ColtRunner(env, settings, 'default');
    case 'colt-no-llm':
      return new ColtRunner(env, settings, 'none');
    case 'colt-pretrained':
      return new ColtRunner(env, settings, 'default', true);
    case 'colt-no-llm-pretrained':
      return new ColtRunner(env, settings, 'none', true);
    case 'colt-offline-3':
      return new ColtRunner(env, settings, 'offline-3');
    case 'colt-qwen':
      return new ColtRunner(env, settings, 'qwen');
    case 'evolutionary':
    case 'replay-trace':
      return new MetaScheduleRunner(env, settings, strategy);
  }
}
