// One model behind an OpenAI-compatible endpoint, through the official `openai` client: a chat
// completion with a per-request deadline and our own bounded retries, and a start-up probe
// that turns a bad key or an unreachable URL into one clear line.
import OpenAI from 'openai';

import { Code, ColtError, oneLine } from '../../errors';
import { CALL_DETAIL_MAX, llmCallError, type LlmCallError } from '../call-error';
import type { ModelConfig } from '../config';
import type { ChatMessage, Completion, LanguageModel } from '../language-model';
import { displayUrl, scrub } from '../secrets';
import { BACKOFF_DEFAULTS, backoffMs, classifyFailure, type BackoffOptions, type FailureInfo } from './retry';

export interface ChatModelOptions {
  backoff?: Partial<BackoffOptions>;
  /** Waits between retries; tests make it instant. */
  sleep?: (ms: number) => Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function usageOf(raw: unknown): Completion['usage'] {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { prompt_tokens: p, completion_tokens: c } = raw as Record<string, unknown>;
  const ok = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && x >= 0;
  return ok(p) && ok(c) ? { promptTokens: p, completionTokens: c } : undefined;
}

/** The answer's text; throws for a body that is not a chat completion at all. */
function textOf(raw: unknown): string {
  const choices = (raw as { choices?: unknown } | null)?.choices;
  if (!Array.isArray(choices) || choices.length === 0) throw new Error('the answer has no choices');
  const content = (choices[0] as { message?: { content?: unknown } } | null)?.message?.content;
  // A refusal or a tool call leaves content null: an empty answer, which the parser rejects.
  return typeof content === 'string' ? content : '';
}

export class ChatModel implements LanguageModel {
  readonly name: string;
  readonly config: ModelConfig;
  // Private fields: the client holds the key, and must not show up when this object is printed.
  readonly #client: OpenAI;
  readonly #secrets: string[];
  readonly #backoff: BackoffOptions;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(config: ModelConfig, apiKey: string | undefined, options: ChatModelOptions = {}) {
    this.name = config.name;
    this.config = config;
    this.#secrets = apiKey ? [apiKey] : [];
    this.#client = new OpenAI({
      baseURL: config.baseURL,
      // The client refuses to start without a key; local servers need none.
      apiKey: apiKey ?? 'none',
      timeout: config.timeoutMs,
      maxRetries: 0,
      // Every call is reported through our events; the client's own log stays quiet.
      logLevel: 'off',
    });
    this.#backoff = {
      baseMs: options.backoff?.baseMs ?? BACKOFF_DEFAULTS.baseMs,
      maxMs: options.backoff?.maxMs ?? BACKOFF_DEFAULTS.maxMs,
      random: options.backoff?.random ?? Math.random,
    };
    this.#sleep = options.sleep ?? sleep;
  }

  /** One chat completion, retried per the retry policy; throws a failed-call ColtError. Constraints are not sent. */
  async complete(messages: ChatMessage[]): Promise<Completion> {
    const body = {
      model: this.config.model,
      messages,
      [this.config.maxTokensParam]: this.config.maxOutputTokens,
      ...(this.config.temperature !== undefined ? { temperature: this.config.temperature } : {}),
    } as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming;
    const { value, attempts } = await this.withRetries(this.config.maxRetries, (signal) =>
      this.#client.chat.completions.create(body, { timeout: this.config.timeoutMs, maxRetries: 0, signal }),
    ).catch((failure: Failed) => {
      throw this.callError(failure);
    });
    try {
      return { text: textOf(value), usage: usageOf((value as { usage?: unknown }).usage), attempts };
    } catch (err) {
      throw this.callError({ info: classifyFailure(err, false), attempts });
    }
  }

  /**
   * Checks, before any tuning, that the endpoint answers and accepts the key: lists the models
   * (free, and every OpenAI-compatible server has it). Throws a one-line ColtError (InvalidArgument).
   */
  async probe(): Promise<void> {
    // A refused connection will not heal in the next second; a busy server might.
    await this.withRetries(this.config.maxRetries, (signal) =>
      this.#client.models.list({ timeout: this.config.timeoutMs, maxRetries: 0, signal }),
      false,
    ).catch((failure: Failed) => {
      throw new ColtError(Code.InvalidArgument, this.probeMessage(failure.info));
    });
  }

  private async withRetries<T>(
    maxRetries: number,
    request: (signal: AbortSignal) => Promise<T>,
    retryConnection = true,
  ): Promise<{ value: T; attempts: number }> {
    for (let attempt = 0; ; attempt++) {
      const controller = new AbortController();
      let timedOut = false;
      // Our own deadline covers reading the body too, which the client's timeout does not.
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, this.config.timeoutMs);
      let info: FailureInfo;
      try {
        return { value: await request(controller.signal), attempts: attempt + 1 };
      } catch (err) {
        info = classifyFailure(err, timedOut);
      } finally {
        clearTimeout(timer);
      }
      const retry = info.retryable && (retryConnection || info.kind !== 'connection') && attempt < maxRetries;
      if (!retry) throw new Failed(info, attempt + 1);
      await this.#sleep(backoffMs(attempt, this.#backoff, info.retryAfterMs));
    }
  }

  private callError({ info, attempts }: Failed): LlmCallError {
    const status = info.status !== undefined ? ` (HTTP ${info.status})` : '';
    const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
    // What an endpoint says about a rejected key may quote the key: keep none of it.
    const detail =
      info.kind === 'auth'
        ? 'the endpoint rejected the API key'
        : info.kind === 'timeout'
          ? `no answer within ${this.config.timeoutMs} ms`
          : oneLine(scrub(info.detail, this.#secrets), CALL_DETAIL_MAX);
    return llmCallError(
      { model: this.name, kind: info.kind, attempts, status: info.status },
      `${this.name}: ${info.kind}${status}${tries}: ${detail}`,
    );
  }

  private probeMessage(info: FailureInfo): string {
    const url = displayUrl(this.config.baseURL);
    const who = `model "${this.name}"`;
    switch (info.kind) {
      case 'auth':
        return this.config.apiKeyEnv
          ? `${who}: ${url} rejected the API key in $${this.config.apiKeyEnv} (HTTP ${info.status})`
          : `${who}: ${url} wants an API key (HTTP ${info.status}); name its environment variable in apiKeyEnv`;
      case 'connection':
        return `${who}: cannot reach ${url}: ${oneLine(scrub(info.detail, this.#secrets), 120)}`;
      case 'timeout':
        return `${who}: ${url} did not answer within ${this.config.timeoutMs} ms`;
      case 'not_found':
        return `${who}: ${url}/models answered HTTP 404; is the base URL right? It usually ends in /v1`;
      case 'rate_limit':
      case 'server':
        return `${who}: ${url} answered HTTP ${info.status}: ${oneLine(scrub(info.detail, this.#secrets), 120)}`;
      default:
        return `${who}: ${url} does not answer like an OpenAI-compatible endpoint: ${oneLine(scrub(info.detail, this.#secrets), 120)}`;
    }
  }
}

/** A request that failed for good: how, and after how many tries. */
class Failed {
  constructor(
    readonly info: FailureInfo,
    readonly attempts: number,
  ) {}
}
