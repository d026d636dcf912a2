// Wiring a pool into a search: one LlmProposer per model over a shared built-in fallback, and
// the search options COLT needs (the largest model labels the initial population and corrects
// the small ones, the model-aware UCT term from sizes and λ, the exploration constant).
import { BuiltinProposer } from '../search/builtin-proposer';
import type { SearchOptions } from '../search/options';
import { modelBiasFromSizes } from '../search/policy';
import type { Proposer } from '../search/types';
import { loadModelsConfig } from './config';
import { ModelPool, type ModelPoolOptions } from './pool';
import { LlmProposer, type LlmProposerOptions } from './proposer';

export interface LlmSearchWiring {
  /** By model name: the search's proposers. */
  proposers: Record<string, LlmProposer>;
  /** To spread into the SearchOptions. */
  searchOptions: Required<Pick<SearchOptions, 'defaultModel' | 'modelBias' | 'explorationC'>> &
    Pick<SearchOptions, 'courseAlteration'>;
}

/** The proposers and search options for a COLT run over `pool`. */
export function llmSearchWiring(
  pool: ModelPool,
  options: { fallback?: Proposer; parseLimits?: LlmProposerOptions['parseLimits'] } = {},
): LlmSearchWiring {
  const fallback = options.fallback ?? new BuiltinProposer();
  const proposers: Record<string, LlmProposer> = {};
  for (const name of pool.names) {
    proposers[name] = new LlmProposer(pool, name, { fallback, parseLimits: options.parseLimits });
  }
  const { lambda, explorationC, courseAlteration } = pool.config;
  return {
    proposers,
    searchOptions: {
      defaultModel: pool.largest,
      modelBias: modelBiasFromSizes(pool.sizes(), lambda),
      explorationC,
      ...(courseAlteration.enabled ? { courseAlteration: { streak: courseAlteration.streak, model: pool.largest } } : {}),
    },
  };
}

/**
 * Start-up for `--models FILE`: reads and checks the file, reads the keys from the environment,
 * and probes every endpoint. Throws ConfigError (LlmConfigError for the probe), one line each.
 */
export async function openModelPool(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  options: ModelPoolOptions = {},
): Promise<ModelPool> {
  const pool = ModelPool.fromConfig(loadModelsConfig(file), env, options);
  await pool.probe();
  return pool;
}
