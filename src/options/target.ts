// Targets as TVM 0.27 wants them: a JSON dict. The CLI also takes two shorthands, because
// nobody wants to type JSON for the common case.
import { z } from 'zod';

import { Code, ColtError } from '../errors';

/** A target as TVM's JSON dict: a kind plus kind-specific attributes. */
export type TargetSpec = { kind: string } & Record<string, unknown>;

/** The target text could not be understood; the message names the problem. */
function targetError(message: string): ColtError {
  return new ColtError(Code.InvalidArgument, message);
}

const EXAMPLE = '{"kind":"llvm","num-cores":2}';

/**
 * `llvm` means this machine's CPU with all its cores (MetaSchedule needs num-cores on llvm),
 * `cuda` the first GPU; anything starting with `{` is parsed as TVM's JSON dict.
 */
export function parseTarget(text: string, cores: number): TargetSpec {
  const trimmed = text.trim();
  if (trimmed === 'llvm') return { kind: 'llvm', 'num-cores': cores };
  if (trimmed === 'cuda') return { kind: 'cuda' };
  if (!trimmed.startsWith('{')) {
    // TVM 0.27 rejects the old string form ("llvm -num-cores 2"): say what to write instead.
    throw targetError(`unknown target ${JSON.stringify(trimmed)}: give a JSON object such as ${EXAMPLE}, or llvm / cuda`);
  }
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch (err) {
    throw targetError(`not valid JSON (${(err as Error).message}): ${trimmed}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw targetError(`must be a JSON object such as ${EXAMPLE}`);
  }
  const kind = (value as { kind?: unknown }).kind;
  if (typeof kind !== 'string' || kind.trim() === '') {
    throw targetError(`needs a "kind", e.g. ${EXAMPLE}`);
  }
  return value as TargetSpec;
}

/** A target option: its text (default `llvm`) parsed, a bad one reported as the option's issue. */
export function targetOption(cores: number, defaultText: string) {
  return z
    .string({ error: 'must be a JSON object or llvm / cuda' })
    .default(defaultText)
    .transform((text, zctx): TargetSpec => {
      try {
        return parseTarget(text, cores);
      } catch (err) {
        if (!(err instanceof ColtError)) throw err;
        zctx.addIssue({ code: 'custom', message: err.message });
        return z.NEVER;
      }
    });
}
