// What `colt tune`, `colt bench` and the daemon's Tune share: how a flag's text becomes a
// number, and the measurement settings' defaults, stated once. Flags arrive from commander as
// strings; the daemon's requests as numbers.
import { z } from 'zod';

/** Trials and measurement, the same for every command that tunes. */
export const MEASURE_DEFAULTS = {
  target: 'llvm',
  perIter: 16,
  number: 3,
  repeat: 1,
  minRepeatMs: 40,
  timeout: 30,
  costModel: 'xgb',
} as const;

export const COST_MODELS = ['xgb', 'random'] as const;

/** Flag text to a number; leaves non-strings to the schema's type check. */
export function numeric(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  return value.trim() === '' ? NaN : Number(value);
}

/**
 * Upper bounds on every number a command or request gives: far above what a real run asks for,
 * low enough that no value makes a deadline vanish, a loop run for ever or a pool grow without
 * end. `colt tune --help` states them.
 */
export const LIMITS = {
  trials: 100_000,
  perIter: 4096,
  number: 10_000,
  repeat: 10_000,
  /** Milliseconds. */
  minRepeatMs: 60_000,
  /** Seconds: one build or run of one trial. */
  timeout: 3600,
  llmBudget: 100_000,
  /** TVM seeds its random engine with a 31-bit value. */
  seed: 2 ** 31 - 1,
  rpcPriority: 1_000_000,
  /** Seconds. */
  rpcSessionTimeout: 86_400,
  maxBridgeRestarts: 100,
  benchSeeds: 100,
  /** Seconds: one bench run, all its trials. */
  runTimeout: 7 * 86_400,
  /** Threads of an llvm target. */
  numCores: 4096,
} as const;

export function integer(min: number, max: number) {
  const message = `must be an integer >= ${min} and <= ${max}`;
  return z.preprocess(
    numeric,
    z.number({ error: message }).int({ error: message }).min(min, { error: message }).max(max, { error: message }),
  );
}

export function positiveNumber(max: number) {
  const message = `must be a number > 0 and <= ${max}`;
  return z.preprocess(
    numeric,
    z.number({ error: message }).positive({ error: message }).finite({ error: message }).max(max, { error: message }),
  );
}

export function costModel() {
  return z.enum(COST_MODELS, { error: 'must be xgb or random' }).default(MEASURE_DEFAULTS.costModel);
}
