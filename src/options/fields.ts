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

export function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  const message = `must be an integer >= ${min}`;
  return z.preprocess(
    numeric,
    z.number({ error: message }).int({ error: message }).min(min, { error: message }).max(max, { error: `must be at most ${max}` }),
  );
}

export function positiveNumber() {
  const message = 'must be a number > 0';
  return z.preprocess(numeric, z.number({ error: message }).positive({ error: message }).finite({ error: message }));
}

export function costModel() {
  return z.enum(COST_MODELS, { error: 'must be xgb or random' }).default(MEASURE_DEFAULTS.costModel);
}
