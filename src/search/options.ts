// Search options: the knobs, their defaults, and one pure check that reports every bad value
// at once with its name.
import { SearchError } from './errors';
import type { ModelBias } from './policy';

export interface SearchOptions {
  /** Hardware trials: every measured schedule counts one, failed or not. */
  maxTrials: number;
  /** Schedules measured per round. */
  trialsPerIter?: number;
  /**
   * Size of the first measurement batch; default half of trialsPerIter (rounded up). Smaller,
   * so that the cost model has measurements when it picks the rest of the first trialsPerIter.
   */
  firstBatch?: number;
  /**
   * Schedules sampled from the design space as the root's children; default 8 × trialsPerIter:
   * a pool the cost model picks from once it has measurements, as evolutionary search's
   * initial population is.
   */
  initialPopulation?: number;
  /** Children a node gets before the policy descends past it. */
  maxChildren?: number;
  /**
   * Expansions per round, between two measurement batches; default 8 × trialsPerIter. The
   * built-in proposer's are cheap (a few ms each), and the more there are, the more the cost
   * model has to choose the next batch from.
   */
  expansionsPerRound?: number;
  /**
   * Whether the first batch is measured straight from the initial population, before any
   * expansion (default true): until something is measured the cost model cannot tell a mutant
   * from its parent, and a batch of near-twins teaches it little.
   */
  measureFirst?: boolean;
  /**
   * Decisions in which every schedule picked for a batch by predicted score differs from the
   * others picked before it; 1 allows near-twins (one decision apart).
   */
  batchDistance?: number;
  /** UCT exploration constant c. */
  explorationC?: number;
  /** Share of each measurement batch drawn at random instead of by predicted score. */
  randomShare?: number;
  /** Failed expansions after which a node is terminal. */
  maxFailures?: number;
  /** Wall-time budget, read from the injected clock. */
  timeBudgetSec?: number;
  seed?: number;
  /**
   * Label of the initial population: the proposer that acts on it. With LLMs, COLT gives it to
   * the largest model.
   */
  defaultModel?: string;
  /** COLT's model-aware UCT term; none by default (λ = 0). */
  modelBias?: ModelBias;
  /** COLT's course alteration; off by default. */
  courseAlteration?: CourseAlterationOptions;
  /**
   * Measurement batches out at once. 1 (the default) alternates expanding and measuring; more
   * keeps devices busy (e.g. several RPC devices) while the search expands for the next batch,
   * whose picks then go without the results still out.
   */
  maxBatchesInFlight?: number;
  /** Times a schedule's trial may be lost with its device before it is no longer picked. */
  maxDeviceLosses?: number;
}

export interface CourseAlterationOptions {
  /** Every `streak`-th consecutive regression by a small model asks `model` for a correction. */
  streak: number;
  /** The correcting model: the largest one. Default: defaultModel. Every other model counts as small. */
  model?: string;
}

export const SEARCH_DEFAULTS = {
  trialsPerIter: 16,
  maxChildren: 2,
  explorationC: 0.3,
  randomShare: 0.05,
  maxFailures: 5,
  seed: 0,
  defaultModel: 'builtin',
  maxBatchesInFlight: 1,
  maxDeviceLosses: 2,
  measureFirst: true,
  batchDistance: 3,
} as const;

export type ResolvedSearchOptions = Required<
  Omit<SearchOptions, 'timeBudgetSec' | 'modelBias' | 'courseAlteration'>
> &
  Pick<SearchOptions, 'timeBudgetSec' | 'modelBias'> & {
    courseAlteration?: Required<CourseAlterationOptions>;
  };

/** Options a search cannot run with; the message names every offending field. */
export function invalidOptions(issues: string[]): SearchError {
  return new SearchError('INVALID_OPTIONS', `invalid search options: ${issues.join('; ')}`, issues);
}

/** Fills in defaults and checks every value; throws INVALID_OPTIONS listing all problems. */
export function resolveSearchOptions(options: SearchOptions): ResolvedSearchOptions {
  const trialsPerIter = options.trialsPerIter ?? SEARCH_DEFAULTS.trialsPerIter;
  const resolved: ResolvedSearchOptions = {
    maxTrials: options.maxTrials,
    trialsPerIter,
    firstBatch: options.firstBatch ?? Math.ceil(trialsPerIter / 2),
    initialPopulation: options.initialPopulation ?? 8 * trialsPerIter,
    maxChildren: options.maxChildren ?? SEARCH_DEFAULTS.maxChildren,
    expansionsPerRound: options.expansionsPerRound ?? 8 * trialsPerIter,
    measureFirst: options.measureFirst ?? SEARCH_DEFAULTS.measureFirst,
    batchDistance: options.batchDistance ?? SEARCH_DEFAULTS.batchDistance,
    explorationC: options.explorationC ?? SEARCH_DEFAULTS.explorationC,
    randomShare: options.randomShare ?? SEARCH_DEFAULTS.randomShare,
    maxFailures: options.maxFailures ?? SEARCH_DEFAULTS.maxFailures,
    timeBudgetSec: options.timeBudgetSec,
    seed: options.seed ?? SEARCH_DEFAULTS.seed,
    defaultModel: options.defaultModel ?? SEARCH_DEFAULTS.defaultModel,
    modelBias: options.modelBias,
    maxBatchesInFlight: options.maxBatchesInFlight ?? SEARCH_DEFAULTS.maxBatchesInFlight,
    maxDeviceLosses: options.maxDeviceLosses ?? SEARCH_DEFAULTS.maxDeviceLosses,
  };
  if (options.courseAlteration) {
    resolved.courseAlteration = {
      streak: options.courseAlteration.streak,
      model: options.courseAlteration.model ?? resolved.defaultModel,
    };
  }

  const issues: string[] = [];
  const int = (name: keyof ResolvedSearchOptions, min: number): void => {
    const v = resolved[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      issues.push(`${name}: must be an integer >= ${min}, got ${String(v)}`);
    }
  };
  int('maxTrials', 0);
  int('trialsPerIter', 1);
  int('firstBatch', 1);
  int('initialPopulation', 1);
  int('maxChildren', 1);
  int('expansionsPerRound', 0);
  int('batchDistance', 1);
  int('maxFailures', 1);
  int('maxBatchesInFlight', 1);
  int('maxDeviceLosses', 1);
  if (!Number.isSafeInteger(resolved.seed)) issues.push(`seed: must be a safe integer, got ${resolved.seed}`);
  if (!(Number.isFinite(resolved.explorationC) && resolved.explorationC >= 0)) {
    issues.push(`explorationC: must be a finite number >= 0, got ${resolved.explorationC}`);
  }
  if (!(resolved.randomShare >= 0 && resolved.randomShare <= 1)) {
    issues.push(`randomShare: must be in [0, 1], got ${resolved.randomShare}`);
  }
  if (resolved.timeBudgetSec !== undefined && !(resolved.timeBudgetSec > 0)) {
    issues.push(`timeBudgetSec: must be > 0, got ${resolved.timeBudgetSec}`);
  }
  if (typeof resolved.defaultModel !== 'string' || resolved.defaultModel === '') {
    issues.push('defaultModel: must be a non-empty string');
  }
  const lambda = resolved.modelBias?.lambda;
  if (lambda !== undefined && !(lambda >= 0 && lambda <= 1)) {
    issues.push(`modelBias.lambda: must be in [0, 1], got ${lambda}`);
  }
  const alteration = resolved.courseAlteration;
  if (alteration) {
    if (!(Number.isInteger(alteration.streak) && alteration.streak >= 1)) {
      issues.push(`courseAlteration.streak: must be an integer >= 1, got ${String(alteration.streak)}`);
    }
    if (typeof alteration.model !== 'string' || alteration.model === '') {
      issues.push('courseAlteration.model: must be a non-empty string');
    }
  }
  if (issues.length > 0) throw invalidOptions(issues);
  return resolved;
}
