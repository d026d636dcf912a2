// The LLM layer's typed errors. A ConfigError is the user's to fix (models.json, an environment
// variable, a key, a base URL) and stops a run before tuning starts; an LlmCallError is one
// failed call during tuning, which the proposer absorbs by falling back to the built-in proposer.

/** models.json, or the environment it names, cannot be used. The message is one line. */
export class ConfigError extends Error {
  constructor(
    message: string,
    /** The individual problems, each `dot.path: what is wrong`. */
    readonly issues: readonly string[] = [],
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** An endpoint named in models.json refused us at start-up: a bad key, no server, a wrong URL. */
export class LlmConfigError extends ConfigError {
  constructor(message: string, issues: readonly string[] = []) {
    super(message, issues);
    this.name = 'LlmConfigError';
  }
}

/** Why a call failed, in the words reports and prompts use. */
export type LlmErrorKind =
  | 'timeout'
  | 'rate_limit'
  | 'server'
  | 'connection'
  | 'auth'
  | 'bad_request'
  | 'not_found'
  | 'bad_response';

/** One LLM call that failed, after whatever retries its kind allows. */
export class LlmCallError extends Error {
  constructor(
    readonly model: string,
    readonly kind: LlmErrorKind,
    message: string,
    /** HTTP requests made, retries included. */
    readonly attempts: number,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'LlmCallError';
  }
}

const REDACTED = '[redacted]';

/**
 * Replaces every secret in text. Servers echo keys back (OpenAI's 401 quotes part of it), so any
 * text that came from outside passes through here before it reaches a message or an event.
 */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    // A one- or two-character "key" would turn every message into confetti; real keys are long.
    if (secret.length >= 3) out = out.split(secret).join(REDACTED);
  }
  return out;
}

/** A URL fit for messages: no user name, password, query or fragment. */
export function displayUrl(url: string | undefined): string {
  if (url === undefined) return "OpenAI's default endpoint";
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(invalid URL)';
  }
}

/** One line, at most max characters: for text from servers and models inside our messages. */
export function oneLine(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
