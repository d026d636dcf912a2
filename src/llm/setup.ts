// Wiring a pool into a search: one LlmProposer per LLM over a shared built-in fallback (which
// also takes the turns of a built-in member), and the search options COLT needs (the first
// model labels the initial population, the largest corrects the small ones, the model-aware UCT
// term from sizes and λ, the exploration constant).
import {
  BuiltinProposer,
  modelBiasFromSizes,
  SEARCH_DEFAULTS,
  type Proposal,
  type ProposalContext,
  type Proposer,
  type SearchOptions,
} from '../search';
import { loadModelsConfig, type ModelsConfig } from './config';
import { ModelPool, type ModelPoolOptions, type LlmBookings, type PoolSnapshot, type SpendListener } from './pool';
import { LlmProposer, type LlmProposerOptions } from './proposer';

export interface LlmSearchWiring {
  /** By model name: the search's proposers. */
  proposers: Record<string, Proposer>;
  /** To spread into the SearchOptions. */
  searchOptions: Required<Pick<SearchOptions, 'defaultModel' | 'modelBias' | 'explorationC'>> &
    Pick<SearchOptions, 'courseAlteration' | 'initialPopulation' | 'expansionsPerRound'>;
  /** What the LLM side has spent and learnt, for checkpoints beside the search's own state. */
  state: LlmRunState;
}

/** The LLM side of a run as checkpoints keep it: the pool's account and the fallback's mutator statistics. */
export interface LlmStateSnapshot {
  version: 1;
  pool: PoolSnapshot;
  fallback?: unknown;
}

/**
 * Saves and restores the LLM side of a run; onChange: an LLM call was booked, as it goes `out`
 * (the call waits for the listener's promise) and when it is `in`.
 */
export interface LlmRunState {
  snapshot(): LlmStateSnapshot;
  /** Tolerant: a state it cannot read leaves the pool as it is. */
  restore(state: unknown): void;
  onChange(listener: SpendListener): void;
  /** Calls booked so far, for the run's LLM ledger. */
  bookings(): LlmBookings;
  /** After restore(): carries on from a ledger's counts where they are higher. */
  carryBookings(bookings: LlmBookings): void;
}

/**
 * The built-in proposer as a member of the bucket: it makes no calls, but its turns count
 * towards its hit rate, which the LLMs' prompts show.
 */
class BuiltinMember implements Proposer {
  constructor(
    private readonly pool: ModelPool,
    readonly name: string,
    private readonly inner: Proposer,
  ) {}

  propose(ctx: ProposalContext): Promise<Proposal> {
    return this.inner.propose(ctx);
  }

  feedback(proposal: Proposal, improved: boolean): void {
    this.pool.noteOutcome(this.name, improved);
    this.inner.feedback?.(proposal, improved);
  }
}

/** The proposers and search options for a COLT run over `pool`. */
export function llmSearchWiring(
  pool: ModelPool,
  options: { fallback?: Proposer; parseLimits?: LlmProposerOptions['parseLimits']; trialsPerIter?: number } = {},
): LlmSearchWiring {
  const fallback = options.fallback ?? new BuiltinProposer();
  const proposers: Record<string, Proposer> = {};
  for (const name of pool.names) {
    proposers[name] = pool.isBuiltin(name)
      ? new BuiltinMember(pool, name, fallback)
      : new LlmProposer(pool, name, { fallback, parseLimits: options.parseLimits });
  }
  const { lambda, explorationC, courseAlteration, firstModel } = pool.config;
  const first = firstModel ?? pool.largest;
  const perIter = options.trialsPerIter ?? SEARCH_DEFAULTS.trialsPerIter;
  return {
    proposers,
    state: {
      // The fallback is shared by every model and is no proposer of the search's own: its
      // statistics travel with the pool's.
      snapshot: () => ({ version: 1, pool: pool.snapshot(), ...(fallback.snapshot ? { fallback: fallback.snapshot() } : {}) }),
      restore: (state) => {
        if (typeof state !== 'object' || state === null) return;
        const saved = state as Partial<LlmStateSnapshot>;
        pool.restore(saved.pool);
        if (saved.fallback !== undefined) fallback.restore?.(saved.fallback);
      },
      onChange: (listener) => pool.onSpend(listener),
      bookings: () => pool.bookings(),
      carryBookings: (bookings) => pool.carryBookings(bookings),
    },
    searchOptions: {
      defaultModel: first,
      modelBias: modelBiasFromSizes(pool.sizes(), lambda),
      explorationC,
      ...(courseAlteration.enabled ? { courseAlteration: { streak: courseAlteration.streak, model: pool.largest } } : {}),
      // An LLM acts on the initial population: each expansion of one of its schedules is a call
      // that costs seconds and money, so the population and a round's expansions stay as small
      // as the published code's instead of the built-in proposer's 8 × trialsPerIter each.
      ...(pool.isBuiltin(first) ? {} : { initialPopulation: Math.max(perIter, 8), expansionsPerRound: 2 * perIter }),
    },
  };
}

/**
 * Start-up for `--models FILE`: reads and checks the file (overrides, e.g. an llmBudget from the
 * command line, win over it), reads the keys from the environment, probes every endpoint and
 * loads every local model. Throws a one-line ColtError (InvalidArgument) for each of these steps.
 */
export async function openModelPool(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  options: ModelPoolOptions = {},
  overrides: Partial<Pick<ModelsConfig, 'llmBudget'>> = {},
): Promise<ModelPool> {
  const config = loadModelsConfig(file);
  return openPool(overrides.llmBudget === undefined ? config : { ...config, llmBudget: overrides.llmBudget }, env, options);
}

/** A pool over a checked config, probed; a pool that failed its probe is closed before the error leaves. */
export async function openPool(config: ModelsConfig, env: NodeJS.ProcessEnv = process.env, options: ModelPoolOptions = {}): Promise<ModelPool> {
  const pool = ModelPool.fromConfig(config, env, options);
  try {
    await pool.probe();
  } catch (err) {
    await pool.close();
    throw err;
  }
  return pool;
}
