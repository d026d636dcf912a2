// What the LLM layer reports: one event per LLM call, per answer that had to be repaired or
// rejected, and one when the LLM budget runs out. They join the search's own events in the
// reporters (table, JSON lines). No event ever holds a key or a whole prompt or answer.
import type { LlmErrorKind } from '../errors';

export type LlmPurpose = 'propose' | 'correct';

export type LlmEvent =
  /** One LLM call: answered from the cache, answered by the endpoint, or failed. */
  | {
      type: 'llm_call';
      model: string;
      purpose: LlmPurpose;
      ok: boolean;
      cached: boolean;
      promptTokens: number;
      completionTokens: number;
      /** The server reported no usage: tokens are a chars/4 estimate. */
      estimated: boolean;
      costUsd: number;
      latencyMs: number;
      /** HTTP requests, retries included (0 for a cached answer). */
      attempts: number;
      /** CPU threads a local model's call ran on. */
      threads?: number;
      errorKind?: LlmErrorKind;
      error?: string;
    }
  /**
   * An answer with problems: what was skipped and why. fallback: nothing in it could be used,
   * so the built-in proposer chose the transformations.
   */
  | {
      type: 'llm_parse';
      model: string;
      purpose: LlmPurpose;
      issues: string[];
      transformations: number;
      nextModel?: string;
      fallback: boolean;
    }
  /** The LLM budget is spent: the built-in proposer continues from trialsUsed on. */
  | { type: 'llm_budget'; reason: 'calls' | 'money'; trialsUsed: number; calls: number; costUsd: number };

/** One model's account for the run. */
export interface LlmModelStats {
  /** Parameters or price: what the model-aware UCT term compares. */
  size: number;
  /** Calls sent to the endpoint, failed ones included; cache hits are not calls. */
  calls: number;
  /** HTTP requests, retries included. */
  requests: number;
  /** Calls that failed after their retries. */
  failedCalls: number;
  /** Failed calls plus every problem found in answers (unknown transformation, bad edit...). */
  errors: number;
  /** Questions answered from the cache, at no cost. */
  cacheHits: number;
  /** Calls made for course alteration (included in calls). */
  corrections: number;
  /** Turns this model took while LLMs were on, judged against the parent. */
  proposals: number;
  /**
   * Of those, turns whose child the cost model scored above its parent, with the model's own
   * transformations (a turn the built-in proposer filled in is never a hit).
   */
  hits: number;
  /** Turns whose transformations the built-in proposer chose (failed call, unusable answer). */
  fallbacks: number;
  promptTokens: number;
  completionTokens: number;
  /** Calls whose tokens are estimates (the server sent no usage). */
  estimatedCalls: number;
  costUsd: number;
  /** Time spent waiting for this model. */
  waitMs: number;
  /** CPU threads of its answered calls, summed (a local model; 0 for an endpoint). */
  threads: number;
}

/** hits / proposals, 0 before the first judged turn. */
export function hitRate(stats: Pick<LlmModelStats, 'hits' | 'proposals'>): number {
  return stats.proposals > 0 ? stats.hits / stats.proposals : 0;
}

export function emptyStats(size: number): LlmModelStats {
  return {
    size,
    calls: 0,
    requests: 0,
    failedCalls: 0,
    errors: 0,
    cacheHits: 0,
    corrections: 0,
    proposals: 0,
    hits: 0,
    fallbacks: 0,
    promptTokens: 0,
    completionTokens: 0,
    estimatedCalls: 0,
    costUsd: 0,
    waitMs: 0,
    threads: 0,
  };
}
