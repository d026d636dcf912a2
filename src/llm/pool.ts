// The run's bucket of models: one language model each (an endpoint, or a GGUF file in-process),
// the built-in proposer where the bucket names it, one shared LLM budget (calls and money), one
// response cache, and the per-model account (calls, tokens, money, errors, hit rate) that the
// prompts show and the summary reports.
import { performance } from 'node:perf_hooks';

import { Code, ColtError, hasCode, oneLine } from '../errors';
import { CALL_DETAIL_MAX, isLlmCallError, llmCallError } from './call-error';
import { ApiKeys, largestModel, modelKind, modelSizes, type ModelsConfig } from './config';
import { emptyStats, hitRate, type LlmEvent, type LlmModelStats, type LlmPurpose } from './events';
import type { ChatMessage, LanguageModel } from './language-model';
import { LocalChatModel, type LocalModelOptions } from './local/model';
import type { AnswerConstraints } from './prompting/constraints';
import { ChatModel, type ChatModelOptions } from './remote/client';
import { ResponseCache } from './response-cache';
import { scrub } from './secrets';

export interface ModelPoolOptions {
  onEvent?: (event: LlmEvent) => void;
  /** Milliseconds, for latencies. */
  clock?: () => number;
  /** Answers kept for repeated questions; 0 turns the cache off. */
  cacheSize?: number;
  chat?: ChatModelOptions;
  /** For gguf models. */
  local?: LocalModelOptions;
}

/** When and why the LLMs stopped. */
export interface BudgetSwitch {
  reason: 'calls' | 'money';
  trialsUsed: number;
  calls: number;
  costUsd: number;
}

/** A model's means over its calls (cache hits excluded); null before its first call. */
export interface PerCall {
  secondsPerCall: number | null;
  promptTokensPerCall: number | null;
  completionTokensPerCall: number | null;
  /** A local model's CPU threads, over its answered calls; null for an endpoint. */
  threadsPerCall: number | null;
}

function perCall(s: LlmModelStats): PerCall {
  const mean = (total: number, calls = s.calls) => (calls > 0 ? Math.round((total / calls) * 100) / 100 : null);
  return {
    secondsPerCall: mean(s.waitMs / 1000),
    promptTokensPerCall: mean(s.promptTokens),
    completionTokensPerCall: mean(s.completionTokens),
    threadsPerCall: s.threads > 0 ? mean(s.threads, s.calls - s.failedCalls) : null,
  };
}

/** The LLM side of a run, for the summary. */
export interface LlmSummary {
  /** The LLMs of the bucket (a built-in member makes no calls and is not listed). */
  perModel: Record<string, LlmModelStats & PerCall & { hitRate: number }>;
  totals: {
    calls: number;
    cacheHits: number;
    errors: number;
    promptTokens: number;
    completionTokens: number;
    costUsd: number;
    /** Time spent waiting for LLMs, all models together. */
    waitMs: number;
  };
  largestModel: string;
  /** Share of calls (cache hits included) served by models other than the largest; null before any. */
  smallModelShare: number | null;
  llmBudget: number | null;
  moneyBudget: number | null;
  /** null when the budget lasted the whole run. */
  budgetSwitch: BudgetSwitch | null;
}

/**
 * The pool's account as plain data, for a checkpoint: what a resumed run must not get afresh
 * (budget spent, per-model calls, tokens, money, hit rates, recent errors). restore() takes it.
 */
export interface PoolSnapshot {
  version: 1;
  /** LLM calls and money spent so far, all models together: what the budgets count. */
  calls: number;
  costUsd: number;
  accounts: Record<string, LlmModelStats>;
  recentErrors: Record<string, string[]>;
  budgetSwitch: BudgetSwitch | null;
}

/** Recent problems of a model that its next prompts show, newest last. */
const RECENT_ERRORS = 4;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/** A rough token count where the server reports none. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** When a call is booked: as it goes out, or when its answer or failure is in. */
export type SpendPhase = 'out' | 'in';
export type SpendListener = (phase: SpendPhase) => void | Promise<void>;

/** Calls booked in all and per model, since the run began. */
export interface LlmBookings {
  calls: number;
  perModel: Record<string, number>;
}

export class ModelPool {
  readonly config: ModelsConfig;
  /** The largest model: labels the initial population and answers correction prompts. */
  readonly largest: string;
  /** Model names, in models.json order, a built-in member included. */
  readonly names: readonly string[];
  /** The members that are LLMs: every name but a built-in member's. */
  readonly llmNames: readonly string[];
  private readonly chats = new Map<string, LanguageModel>();
  private readonly sizeOf: Record<string, number>;
  private readonly accounts = new Map<string, LlmModelStats>();
  private readonly recent = new Map<string, string[]>();
  private readonly cache: ResponseCache;
  // A true private field: it must not show when the pool is printed or serialised.
  readonly #secrets: string[];
  private readonly emit: (event: LlmEvent) => void;
  private readonly clock: () => number;
  private calls = 0;
  private costUsd = 0;
  private switched: BudgetSwitch | undefined;
  private readonly spendListeners: Array<SpendListener> = [];

  constructor(config: ModelsConfig, keys: ApiKeys, options: ModelPoolOptions = {}) {
    this.config = config;
    this.names = config.models.map((m) => m.name);
    this.llmNames = config.models.filter((m) => modelKind(m) !== 'builtin').map((m) => m.name);
    this.largest = largestModel(config);
    this.sizeOf = modelSizes(config);
    for (const m of config.models) {
      const kind = modelKind(m);
      if (kind === 'remote') this.chats.set(m.name, new ChatModel(m, keys.get(m.name), options.chat));
      if (kind === 'local') this.chats.set(m.name, new LocalChatModel(m, options.local));
      this.accounts.set(m.name, emptyStats(this.sizeOf[m.name]));
      this.recent.set(m.name, []);
    }
    this.#secrets = keys.secrets();
    this.cache = new ResponseCache(options.cacheSize ?? 1000);
    this.emit = options.onEvent ?? (() => undefined);
    this.clock = options.clock ?? (() => performance.now());
  }

  /** A pool whose keys come from the environment variables models.json names. */
  static fromConfig(config: ModelsConfig, env: NodeJS.ProcessEnv = process.env, options: ModelPoolOptions = {}): ModelPool {
    return new ModelPool(config, ApiKeys.fromEnv(config, env), options);
  }

  /** Probes every endpoint and loads every local model, at once; one ColtError (InvalidArgument) naming each model that failed. */
  async probe(): Promise<void> {
    const results = await Promise.allSettled([...this.chats.values()].map((chat) => chat.probe()));
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
    // One failure keeps its own error, and the reasons it gives.
    if (failed.length === 1 && hasCode(failed[0], Code.InvalidArgument)) throw failed[0];
    const problems = failed.map((err) => err.message);
    if (problems.length > 0) throw new ColtError(Code.InvalidArgument, problems.join('; '), { details: { issues: problems } });
  }

  /** Frees what local models hold; the pool answers no more. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.chats.values()].map((chat) => chat.close?.()));
  }

  /** The model's own token counter, where it has one ready (a loaded local model). */
  tokenCounter(model: string): ((text: string) => number) | undefined {
    const chat = this.chats.get(model);
    if (chat?.countTokens?.('') === undefined) return undefined;
    return (text) => chat.countTokens?.(text) ?? estimateTokens(text);
  }

  /** Whether this member is the built-in proposer rather than an LLM. */
  isBuiltin(model: string): boolean {
    return this.names.includes(model) && !this.chats.has(model);
  }

  /** Model sizes (parameters, or price with sizeBy "price") by name. */
  sizes(): Record<string, number> {
    return { ...this.sizeOf };
  }

  /** A copy of one model's account. */
  stats(model: string): LlmModelStats {
    return { ...this.account(model) };
  }

  private account(model: string): LlmModelStats {
    const stats = this.accounts.get(model);
    if (!stats) throw new RangeError(`no model "${model}" in the pool`);
    return stats;
  }

  /** The budget's verdict now: why LLM calls must stop, if they must. */
  budgetSpent(): BudgetSwitch['reason'] | undefined {
    const { llmBudget, moneyBudget } = this.config;
    if (llmBudget !== undefined && this.calls >= llmBudget) return 'calls';
    if (moneyBudget !== undefined && this.costUsd >= moneyBudget) return 'money';
    return undefined;
  }

  /**
   * Whether the LLMs are off for the rest of the run. The first time the budget says so, one
   * 'llm_budget' event records when (trialsUsed); the answer never changes back.
   */
  llmOff(trialsUsed: number): boolean {
    if (this.switched) return true;
    const reason = this.budgetSpent();
    if (!reason) return false;
    this.switched = { reason, trialsUsed, calls: this.calls, costUsd: this.costUsd };
    this.emit({ type: 'llm_budget', ...this.switched });
    return true;
  }

  /** When the LLM budget ran out, if it did. */
  budgetSwitch(): BudgetSwitch | undefined {
    return this.switched && { ...this.switched };
  }

  /**
   * Asks one model; the answer's text. A question this model has answered before comes from
   * the cache, free. Every call is an 'llm_call' event and lands in the model's account; a
   * failed call throws a ColtError with details.llm (isLlmCallError). The caller checks the
   * budget first (llmOff). Constraints reach the models that can be held to them (local ones);
   * the prompt says the same in words.
   */
  async ask(model: string, messages: ChatMessage[], purpose: LlmPurpose, constraints?: AnswerConstraints): Promise<string> {
    const chat = this.chats.get(model);
    if (!chat) throw new RangeError(`no LLM "${model}" in the pool`);
    const stats = this.account(model);
    const key = ResponseCache.key(model, messages);
    const hit = this.cache.get(key);
    if (hit !== undefined) {
      stats.cacheHits += 1;
      this.emit({
        type: 'llm_call',
        model,
        purpose,
        ok: true,
        cached: true,
        promptTokens: 0,
        completionTokens: 0,
        estimated: false,
        costUsd: 0,
        latencyMs: 0,
        attempts: 0,
      });
      return hit;
    }

    this.calls += 1;
    stats.calls += 1;
    if (purpose === 'correct') stats.corrections += 1;
    // Booked before it goes out, and held until the booking is kept (the run's checkpoint is on
    // disk): a run killed during the call has spent it.
    await this.spent('out');
    const started = this.clock();
    try {
      const completion = await chat.complete(messages, constraints);
      const latencyMs = this.clock() - started;
      const estimated = completion.usage === undefined;
      const promptTokens = completion.usage?.promptTokens ?? estimateTokens(messages.map((m) => m.content).join('\n'));
      const completionTokens = completion.usage?.completionTokens ?? estimateTokens(completion.text);
      const price = chat.config.price;
      const costUsd = price ? (promptTokens * price.inputPerMTok + completionTokens * price.outputPerMTok) / 1e6 : 0;
      stats.requests += completion.attempts;
      stats.promptTokens += promptTokens;
      stats.completionTokens += completionTokens;
      stats.costUsd += costUsd;
      stats.waitMs += latencyMs;
      stats.threads += completion.threads ?? 0;
      if (estimated) stats.estimatedCalls += 1;
      this.costUsd += costUsd;
      this.cache.set(key, completion.text);
      void this.spent('in');
      this.emit({
        type: 'llm_call',
        model,
        purpose,
        ok: true,
        cached: false,
        promptTokens,
        completionTokens,
        estimated,
        costUsd,
        latencyMs,
        attempts: completion.attempts,
        ...(completion.threads !== undefined ? { threads: completion.threads } : {}),
      });
      return completion.text;
    } catch (err) {
      const latencyMs = this.clock() - started;
      stats.waitMs += latencyMs;
      const failure = isLlmCallError(err)
        ? err
        : llmCallError({ model, kind: 'bad_response', attempts: 1 }, `${model}: ${oneLine(scrub(String(err), this.#secrets), CALL_DETAIL_MAX)}`);
      const { attempts, kind } = failure.details.llm;
      stats.requests += attempts;
      stats.failedCalls += 1;
      stats.errors += 1;
      this.remember(model, `call failed: ${kind}`);
      void this.spent('in');
      this.emit({
        type: 'llm_call',
        model,
        purpose,
        ok: false,
        cached: false,
        promptTokens: 0,
        completionTokens: 0,
        estimated: false,
        costUsd: 0,
        latencyMs,
        attempts,
        errorKind: kind,
        error: failure.message,
      });
      throw failure;
    }
  }

  /**
   * Books what the parser found wrong with an answer: each issue is one error, shown in the
   * model's next prompts, and the answer is one 'llm_parse' event.
   */
  noteAnswer(
    model: string,
    purpose: LlmPurpose,
    result: { issues: string[]; transformations: number; nextModel?: string; fallback: boolean },
  ): void {
    const stats = this.account(model);
    stats.errors += result.issues.length;
    if (result.fallback) stats.fallbacks += 1;
    for (const issue of result.issues) this.remember(model, issue);
    if (result.issues.length > 0 || result.fallback) {
      this.emit({
        type: 'llm_parse',
        model,
        purpose,
        issues: result.issues,
        transformations: result.transformations,
        ...(result.nextModel !== undefined ? { nextModel: result.nextModel } : {}),
        fallback: result.fallback,
      });
    }
  }

  /** A turn whose call failed: the built-in proposer chose for this model. */
  noteFallback(model: string): void {
    this.account(model).fallbacks += 1;
  }

  /** Whether a turn of this model produced a child better than its parent. */
  noteOutcome(model: string, improved: boolean): void {
    const stats = this.account(model);
    stats.proposals += 1;
    if (improved) stats.hits += 1;
  }

  /** This model's latest problems, oldest first. */
  recentErrors(model: string): string[] {
    return [...(this.recent.get(model) ?? [])];
  }

  private remember(model: string, problem: string): void {
    const list = this.recent.get(model);
    if (!list) return;
    list.push(oneLine(problem, 160));
    if (list.length > RECENT_ERRORS) list.shift();
  }

  /** The model with the best hit rate so far; ties go to the smaller model, then the earlier entry. */
  bestHitRateModel(): string {
    let best = this.names[0];
    for (const name of this.names) {
      const a = hitRate(this.account(name));
      const b = hitRate(this.account(best));
      if (a > b || (a === b && this.sizeOf[name] < this.sizeOf[best])) best = name;
    }
    return best;
  }

  /**
   * Called whenever a call is booked: as it goes `out` (the call waits for what the listener
   * returns, so a listener can make the booking durable first), and when its answer or failure
   * is `in` (not waited for).
   */
  onSpend(listener: SpendListener): void {
    this.spendListeners.push(listener);
  }

  /** A listener's failure is its own to report: the call goes on either way. */
  private async spent(phase: SpendPhase): Promise<void> {
    await Promise.all(this.spendListeners.map(async (listener) => listener(phase)).map((p) => p.catch(() => undefined)));
  }

  /** The account as plain data, for a checkpoint. */
  snapshot(): PoolSnapshot {
    const accounts: Record<string, LlmModelStats> = {};
    const recentErrors: Record<string, string[]> = {};
    for (const name of this.names) {
      accounts[name] = this.stats(name);
      recentErrors[name] = this.recentErrors(name);
    }
    return {
      version: 1,
      calls: this.calls,
      costUsd: this.costUsd,
      accounts,
      recentErrors,
      budgetSwitch: this.switched ? { ...this.switched } : null,
    };
  }

  /** Calls booked so far, in all and per model: what the run's LLM ledger keeps between checkpoints. */
  bookings(): LlmBookings {
    return { calls: this.calls, perModel: Object.fromEntries(this.llmNames.map((name) => [name, this.account(name).calls])) };
  }

  /**
   * After restore(): raises the call counts to a ledger's, which booked calls that went out after
   * the checkpoint was written (spent; what their answers cost was never booked).
   */
  carryBookings(bookings: LlmBookings): void {
    for (const name of this.llmNames) {
      const booked = bookings.perModel[name];
      const stats = this.account(name);
      if (booked !== undefined && booked > stats.calls) stats.calls = booked;
    }
    this.calls = Math.max(this.calls, bookings.calls);
  }

  /**
   * Takes back a snapshot(), before the run goes on: the budget stays spent, and per-model
   * counts carry on. Tolerant of what it cannot use: models no longer in the bucket, fields
   * missing or malformed (left as they are); sizes always come from the current config.
   */
  restore(state: unknown): void {
    if (!isRecord(state)) return;
    const accounts = isRecord(state.accounts) ? state.accounts : {};
    const recent = isRecord(state.recentErrors) ? state.recentErrors : {};
    for (const name of this.names) {
      const saved = accounts[name];
      const stats = this.account(name);
      if (isRecord(saved)) {
        for (const key of Object.keys(stats) as Array<keyof LlmModelStats>) {
          if (key !== 'size' && isCount(saved[key])) stats[key] = saved[key];
        }
      }
      const errors = recent[name];
      if (Array.isArray(errors) && errors.every((e) => typeof e === 'string')) {
        this.recent.set(name, errors.slice(-RECENT_ERRORS));
      }
    }
    // The totals may include models that have left the bucket since: they were spent all the same.
    const booked = [...this.accounts.values()];
    this.calls = isCount(state.calls) ? state.calls : booked.reduce((n, s) => n + s.calls, 0);
    this.costUsd = isCount(state.costUsd) ? state.costUsd : booked.reduce((n, s) => n + s.costUsd, 0);
    const sw = state.budgetSwitch;
    if (isRecord(sw) && (sw.reason === 'calls' || sw.reason === 'money') && isCount(sw.trialsUsed) && isCount(sw.calls) && isCount(sw.costUsd)) {
      this.switched = { reason: sw.reason, trialsUsed: sw.trialsUsed, calls: sw.calls, costUsd: sw.costUsd };
    }
  }

  /** The run's LLM account, for colt-summary.json and the final report. */
  summary(): LlmSummary {
    const perModel: LlmSummary['perModel'] = {};
    const totals = { calls: 0, cacheHits: 0, errors: 0, promptTokens: 0, completionTokens: 0, costUsd: 0, waitMs: 0 };
    let served = 0;
    let servedBySmall = 0;
    for (const name of this.llmNames) {
      const s = this.account(name);
      perModel[name] = { ...s, ...perCall(s), hitRate: hitRate(s) };
      totals.calls += s.calls;
      totals.cacheHits += s.cacheHits;
      totals.errors += s.errors;
      totals.promptTokens += s.promptTokens;
      totals.completionTokens += s.completionTokens;
      totals.costUsd += s.costUsd;
      totals.waitMs += s.waitMs;
      served += s.calls + s.cacheHits;
      if (name !== this.largest) servedBySmall += s.calls + s.cacheHits;
    }
    return {
      perModel,
      totals,
      largestModel: this.largest,
      smallModelShare: served > 0 ? servedBySmall / served : null,
      llmBudget: this.config.llmBudget ?? null,
      moneyBudget: this.config.moneyBudget ?? null,
      budgetSwitch: this.switched ? { ...this.switched } : null,
    };
  }
}
