// Seeded randomness for the search core. Every random choice in src/search/ goes through an
// Rng so that a search is reproducible from its seed alone (the bridge gets its seeds from
// here too). mulberry32: tiny, fast, and good enough for sampling decisions.

const TWO_POW_32 = 4294967296;

/** murmur3's 32-bit finaliser: spreads nearby seeds and salts over the whole state space. */
function mix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function hashSalt(salt: number | string): number {
  if (typeof salt === 'number') return mix32(seedToUint32(salt) ^ 0x9e3779b9);
  // FNV-1a over UTF-16 code units.
  let h = 0x811c9dc5;
  for (let i = 0; i < salt.length; i++) {
    h = Math.imul(h ^ salt.charCodeAt(i), 0x01000193);
  }
  return mix32(h);
}

/** Folds any integer-valued number (seeds are int64 on the wire) into 32 bits, keeping its high bits. */
function seedToUint32(seed: number): number {
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  const s = Math.trunc(seed);
  const lo = s >>> 0;
  const hi = Math.floor(s / TWO_POW_32) >>> 0;
  return (lo ^ mix32(hi + 0x6a09e667)) >>> 0;
}

/** Index drawn from non-negative weights using one uniform number u in [0, 1); -1 when all are 0. */
export function weightedIndex(weights: readonly number[], u: number): number {
  let total = 0;
  for (const w of weights) {
    if (!Number.isFinite(w) || w < 0) throw new RangeError(`weights must be finite and >= 0, got ${w}`);
    total += w;
  }
  if (total <= 0) return -1;
  let target = u * total;
  let last = -1;
  for (let i = 0; i < weights.length; i++) {
    if (weights[i] <= 0) continue;
    last = i;
    if (target < weights[i]) return i;
    target -= weights[i];
  }
  // Rounding can leave target a hair above the last positive weight.
  return last;
}

/** A deterministic pseudo-random stream. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = mix32(seedToUint32(seed));
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`int(n) needs a positive integer, got ${n}`);
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.int(items.length)];
  }

  /** Index drawn in proportion to the weights; -1 when they are all 0. */
  weighted(weights: readonly number[]): number {
    return weightedIndex(weights, this.next());
  }

  /** The stream's position, for a checkpoint: load() it into any Rng to continue from here. */
  save(): number {
    return this.state;
  }

  load(state: number): void {
    if (!Number.isInteger(state) || state < 0 || state > 0xffffffff) throw new RangeError(`not an Rng state: ${state}`);
    this.state = state >>> 0;
  }

  /**
   * An independent stream derived from this one's current state and the salt. It does not
   * advance this stream, so giving each purpose its own fork keeps one purpose's draws from
   * shifting another's.
   */
  fork(salt: number | string): Rng {
    const child = new Rng(0);
    child.state = mix32(this.state ^ hashSalt(salt));
    return child;
  }
}
