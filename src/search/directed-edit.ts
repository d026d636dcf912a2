// Directed edits: instead of re-sampling a decision at random (what a mutator does), set it to
// a chosen value that is valid by construction. Tile sizes stay a perfect factorisation of the
// loop extent; categorical choices stay within their candidates.
import type { Decision, Transformation } from './types';

export interface TileDetail {
  extent: number;
  n: number;
  /** Upper bound on the innermost factor; 0 means none. */
  maxInnermostFactor: number;
}

function isPositiveInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x > 0;
}

function asRecord(x: unknown): Record<string, unknown> | undefined {
  return typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Record<string, unknown>) : undefined;
}

/** Reads a SamplePerfectTile detail `{ extent, n, max_innermost_factor }`; undefined if malformed. */
export function parseTileDetail(detail: unknown): TileDetail | undefined {
  const d = asRecord(detail);
  if (!d || !isPositiveInt(d.extent) || !isPositiveInt(d.n)) return undefined;
  const m = d.max_innermost_factor ?? 0;
  if (typeof m !== 'number' || !Number.isInteger(m) || m < 0) return undefined;
  return { extent: d.extent, n: d.n, maxInnermostFactor: m };
}

/** Whether value is a perfect tiling for detail: n positive ints, product = extent, innermost within bound. */
export function isValidTile(detail: TileDetail, value: unknown): value is number[] {
  if (!Array.isArray(value) || value.length !== detail.n || !value.every(isPositiveInt)) return false;
  if (value.reduce((a: number, b: number) => a * b, 1) !== detail.extent) return false;
  return detail.maxInnermostFactor === 0 || value[value.length - 1] <= detail.maxInnermostFactor;
}

function primeFactors(x: number): number[] {
  const primes: number[] = [];
  let rest = x;
  for (let p = 2; p * p <= rest; p++) {
    if (rest % p === 0) {
      primes.push(p);
      while (rest % p === 0) rest /= p;
    }
  }
  if (rest > 1) primes.push(rest);
  return primes;
}

/**
 * Every tiling one step away from value: a prime factor moved from one position to another.
 * The product is unchanged, and a bounded innermost factor stays within its bound.
 */
export function neighbourTilings(detail: TileDetail, value: readonly number[]): number[][] {
  const out: number[][] = [];
  const last = value.length - 1;
  for (let from = 0; from < value.length; from++) {
    for (const p of primeFactors(value[from])) {
      for (let to = 0; to < value.length; to++) {
        if (to === from) continue;
        const next = value.slice();
        next[from] /= p;
        next[to] *= p;
        if (detail.maxInnermostFactor > 0 && next[last] > detail.maxInnermostFactor) continue;
        out.push(next);
      }
    }
  }
  return out;
}

function candidateCount(detail: unknown): number {
  const candidates = asRecord(detail)?.candidates;
  return Array.isArray(candidates) ? candidates.length : 0;
}

/** The directed edits possible on one decision (empty when none is, or the decision is malformed). */
export function editsFor(decision: Decision): Transformation[] {
  if (decision.kind === 'SamplePerfectTile') {
    const detail = parseTileDetail(decision.detail);
    // An invalid current value would make "one step away" meaningless.
    if (!detail || !isValidTile(detail, decision.value)) return [];
    return neighbourTilings(detail, decision.value).map((value) => ({
      kind: 'setDecision',
      instIndex: decision.instIndex,
      value,
    }));
  }
  if (decision.kind === 'SampleCategorical') {
    const count = candidateCount(decision.detail);
    const current = decision.value;
    if (count < 2 || typeof current !== 'number' || !Number.isInteger(current)) return [];
    const edits: Transformation[] = [];
    for (let i = 0; i < count; i++) {
      if (i !== current) edits.push({ kind: 'setDecision', instIndex: decision.instIndex, value: i });
    }
    return edits;
  }
  return [];
}

/**
 * One random directed edit: a decision chosen uniformly among the editable ones (so a trace
 * with many tiles does not drown out its categorical choices), then one of its edits.
 */
export function randomDirectedEdit(
  decisions: readonly Decision[],
  random: () => number,
): Transformation | undefined {
  const editable = decisions.map(editsFor).filter((edits) => edits.length > 0);
  if (editable.length === 0) return undefined;
  const edits = editable[Math.floor(random() * editable.length)];
  return edits[Math.floor(random() * edits.length)];
}
