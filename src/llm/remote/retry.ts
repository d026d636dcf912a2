// Which failed requests are worth another try, and how long to wait before it. We retry
// ourselves (the openai client runs with maxRetries 0) so that every HTTP request is counted,
// reported and bounded by our own policy.
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';

import type { LlmErrorKind } from '../../errors';

export interface FailureInfo {
  kind: LlmErrorKind;
  status?: number;
  retryable: boolean;
  /** What the server asked us to wait (Retry-After), if it said. */
  retryAfterMs?: number;
  /** The server's or the network's own words; may hold echoed secrets, scrub before use. */
  detail: string;
}

function retryAfterMs(headers: Headers | undefined): number | undefined {
  if (!headers || typeof headers.get !== 'function') return undefined;
  const ms = Number(headers.get('retry-after-ms'));
  if (Number.isFinite(ms) && ms >= 0 && headers.get('retry-after-ms') !== null) return ms;
  const raw = headers.get('retry-after');
  if (raw === null) return undefined;
  const secs = Number(raw);
  if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
  const date = Date.parse(raw);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}

function causeOf(err: Error): string {
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code ?? (cause.cause as NodeJS.ErrnoException | undefined)?.code;
    return code ? `${cause.message} (${code})` : cause.message;
  }
  return err.message;
}

/**
 * Classifies what a call threw. `timedOut` says our own deadline fired (an abort is then a
 * timeout, not a cancellation). Retried: 408, 409, 429, 5xx and dropped connections. Not
 * retried: timeouts (a model too slow for this prompt is as slow the second time, and a retry
 * would multiply the wait), 4xx (the same request fails the same way), answers we cannot read.
 */
export function classifyFailure(err: unknown, timedOut: boolean): FailureInfo {
  // Once our deadline fired, whatever the abort surfaced as (while connecting or while reading
  // the body) is a timeout.
  if (timedOut || err instanceof APIConnectionTimeoutError || err instanceof APIUserAbortError) {
    return { kind: 'timeout', retryable: false, detail: 'no answer before the timeout' };
  }
  if (err instanceof APIConnectionError) {
    return { kind: 'connection', retryable: true, detail: causeOf(err) };
  }
  if (err instanceof APIError && typeof err.status === 'number') {
    const status = err.status;
    const detail = err.message;
    const after = retryAfterMs(err.headers as Headers | undefined);
    const withAfter = after !== undefined ? { retryAfterMs: after } : {};
    if (status === 429) return { kind: 'rate_limit', status, retryable: true, detail, ...withAfter };
    if (status >= 500 || status === 408 || status === 409) return { kind: 'server', status, retryable: true, detail, ...withAfter };
    if (status === 401 || status === 403) return { kind: 'auth', status, retryable: false, detail };
    if (status === 404) return { kind: 'not_found', status, retryable: false, detail };
    return { kind: 'bad_request', status, retryable: false, detail };
  }
  // JSON the client could not read, an answer without choices...
  return { kind: 'bad_response', retryable: false, detail: err instanceof Error ? err.message : String(err) };
}

export interface BackoffOptions {
  /** First retry waits about this long; each further one twice as long. */
  baseMs: number;
  /** No wait is longer, whatever Retry-After says. */
  maxMs: number;
  random: () => number;
}

export const BACKOFF_DEFAULTS = { baseMs: 500, maxMs: 8_000 } as const;

/**
 * The wait before retry number `attempt` (0-based): exponential with equal jitter (half fixed,
 * half random, so clients that failed together spread out), or the server's Retry-After when
 * that is longer; never above maxMs.
 */
export function backoffMs(attempt: number, options: BackoffOptions, retryAfter?: number): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** attempt);
  const jittered = ceiling / 2 + (options.random() * ceiling) / 2;
  return Math.min(options.maxMs, Math.max(jittered, retryAfter ?? 0));
}
