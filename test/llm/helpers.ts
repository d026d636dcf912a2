// Shared set-up for the LLM tests: configs pointing at the fake server, a pool with instant
// backoff, and a proposal context over the in-memory fake space.
import { ColtError } from '../../src/errors';
import { ApiKeys, parseModelsConfig, type ModelsConfig } from '../../src/llm/config';
import type { LlmEvent } from '../../src/llm/events';
import { ModelPool, type ModelPoolOptions } from '../../src/llm/pool';
import { Rng } from '../../src/search/rng';
import type { NodeView, ProposalContext } from '../../src/search/types';
import { FakeSpace } from '../search/fake-space';

export type ModelEntry = { name: string } & Record<string, unknown>;

/** A checked config whose models all live at baseURL (unless an entry says otherwise). */
export function configFor(baseURL: string, models: ModelEntry[], extra: Record<string, unknown> = {}): ModelsConfig {
  return parseModelsConfig({ models: models.map((m) => ({ baseURL, params: 1e9, ...m })), ...extra });
}

export interface PoolHarness {
  pool: ModelPool;
  events: LlmEvent[];
  sleeps: number[];
}

/** A pool whose retries do not wait (the waits asked for are recorded). */
export function poolFor(config: ModelsConfig, env: NodeJS.ProcessEnv = {}, options: ModelPoolOptions = {}): PoolHarness {
  const events: LlmEvent[] = [];
  const sleeps: number[] = [];
  const keys = ApiKeys.fromEnv(config, env);
  const pool = new ModelPool(config, keys, {
    ...options,
    onEvent: (e) => {
      events.push(e);
      options.onEvent?.(e);
    },
    chat: { sleep: async (ms) => void sleeps.push(ms), backoff: { random: () => 0.5 }, ...options.chat },
  });
  return { pool, events, sleeps };
}

/** A context over a FakeSpace schedule: 6 categorical decisions with 12 candidates each. */
export function contextFor(models: string[], overrides: Partial<ProposalContext> = {}): ProposalContext {
  const space = new FakeSpace();
  const view = (id: number, xs: number[], depth: number, model: string): NodeView => {
    const c = space.candidate(xs);
    return { id, depth, traceJson: c.traceJson, decisions: c.decisions, predictedScore: 0.5 + id / 100, model };
  };
  const rng = new Rng(1);
  return {
    node: view(3, [1, 2, 3, 4, 5, 6], 3, models[0]),
    parent: view(2, [1, 2, 3, 4, 5, 7], 2, models[0]),
    grandparent: view(1, [1, 2, 3, 4, 8, 7], 1, models[0]),
    mutators: space.mutators,
    trialsUsed: 16,
    maxTrials: 64,
    models,
    random: () => rng.next(),
    recentExpanders: [models[0]],
    ...overrides,
  };
}

export const ofType = <T extends LlmEvent['type']>(events: readonly LlmEvent[], type: T) =>
  events.filter((e): e is Extract<LlmEvent, { type: T }> => e.type === type);

/** The ColtError a promise rejects with (a test failure if it resolves or throws anything else). */
export async function failure(p: Promise<unknown>): Promise<ColtError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ColtError);
  return err as ColtError;
}
