// Logging for the edges (CLI, bridge supervisor). Everything goes to stderr: stdout belongs to
// the progress table and to `--json` lines, which scripts parse.
import winston from 'winston';

export type Logger = winston.Logger;

const LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const;
type Level = (typeof LEVELS)[number];

/** Keys whose values never reach a log line. */
// Names of values that hold secrets (apiKey, accessToken, password...), but not counters such
// as promptTokens or the name of a key's variable such as apiKeyEnv.
const SECRET_NAME = /(api[-_]?key|secret|passw(or)?d|authorization|bearer|credential|token$|^key$)/i;
const NOT_SECRET = /(env|tokens|count)$/i;
export const SECRET_KEY = { test: (name: string): boolean => SECRET_NAME.test(name) && !NOT_SECRET.test(name) };
const MASK = '[redacted]';

function redactValue(value: unknown, depth: number): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY.test(k) ? MASK : redactValue(v, depth + 1);
  }
  return out;
}

/**
 * Masks the values of secret-looking keys, at any depth of the log entry's metadata. winston's
 * own bookkeeping lives under symbols, which Object.keys does not see, so it is untouched.
 */
export const redact = winston.format((info) => {
  for (const k of Object.keys(info)) {
    if (k === 'level' || k === 'message') continue;
    info[k] = SECRET_KEY.test(k) ? MASK : redactValue(info[k], 0);
  }
  return info;
});

/** `warn: message`, `debug: [bridge] line`, other metadata as JSON at the end. */
const human = winston.format.printf((info) => {
  const { level, message, source, ...meta } = info;
  const prefix = typeof source === 'string' ? `[${source}] ` : '';
  const extra = Object.keys(meta).length > 0 ? ` ${JSON.stringify(meta)}` : '';
  return `${level}: ${prefix}${String(message)}${extra}`;
});

function levelFromEnv(env: NodeJS.ProcessEnv): Level {
  const wanted = (env.COLT_LOG_LEVEL ?? '').trim().toLowerCase();
  return (LEVELS as readonly string[]).includes(wanted) ? (wanted as Level) : 'warn';
}

export interface LoggerOptions {
  level?: string;
  format?: 'json' | 'simple';
}

/**
 * A logger writing to stderr. Level from COLT_LOG_LEVEL (default "warn"), format from
 * COLT_LOG_FORMAT ("json" or "simple", default "simple").
 */
export function createLogger(options: LoggerOptions = {}, env: NodeJS.ProcessEnv = process.env): Logger {
  const level = options.level && (LEVELS as readonly string[]).includes(options.level) ? options.level : levelFromEnv(env);
  const format = options.format ?? (env.COLT_LOG_FORMAT === 'json' ? 'json' : 'simple');
  return winston.createLogger({
    level,
    format: winston.format.combine(
      redact(),
      format === 'json' ? winston.format.combine(winston.format.timestamp(), winston.format.json()) : human,
    ),
    // A stream on process.stderr, not the Console transport: that one follows `console`, which
    // test runners and embedders replace, and could end up on stdout.
    transports: [new winston.transports.Stream({ stream: process.stderr })],
  });
}

/** True when debug output is on: the CLI then adds stack traces to its one-line errors. */
export function isDebug(logger: Logger): boolean {
  return logger.isLevelEnabled('debug');
}

/** A logger that drops everything, for library callers that pass none. */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console()] });
}
