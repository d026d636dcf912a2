// A bootstrap interval on the suite's headline number: the geometric mean over workloads of
// (baseline's median best / COLT's median best over seeds). Resampled in two stages, as the
// data were drawn: workloads with replacement, then, within each drawn workload, each side's
// seeds with replacement; the statistic is recomputed on every resample, and the interval is
// the resamples' central `level` quantiles (percentile bootstrap). A seeded generator makes the
// numbers reproduce. Pure.
import { geomean, median } from './stats';

/** One workload: each side's best latency per seed (any order; the sides need not pair up). */
export interface WorkloadSamples {
  baseline: number[];
  colt: number[];
}

export interface Interval {
  /** The statistic on the data as they are. */
  value: number;
  low: number;
  high: number;
  /** e.g. 0.9 for a 90% interval. */
  level: number;
  resamples: number;
  /** Workloads that had values on both sides. */
  workloads: number;
}

export interface BootstrapOptions {
  resamples?: number;
  level?: number;
  seed?: number;
}

export const BOOTSTRAP_DEFAULTS = { resamples: 2000, level: 0.9, seed: 20261130 } as const;

/** mulberry32: a small, well-mixed 32-bit generator; the same seed gives the same sequence. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The statistic: geomean over workloads of median(baseline) / median(colt). */
export function geomeanRatio(workloads: readonly WorkloadSamples[]): number {
  return geomean(workloads.map((w) => median(w.baseline) / median(w.colt)));
}

/** The q-quantile of sorted values, by the nearest-rank rule (no interpolation between resamples). */
function quantile(sorted: readonly number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

function draw<T>(xs: readonly T[], random: () => number): T[] {
  return xs.map(() => xs[Math.floor(random() * xs.length)]);
}

/** The interval of geomeanRatio; null when no workload has values on both sides. */
export function bootstrapGeomeanRatio(data: readonly WorkloadSamples[], options: BootstrapOptions = {}): Interval | null {
  const { resamples, level, seed } = { ...BOOTSTRAP_DEFAULTS, ...options };
  const workloads = data
    .map((w) => ({ baseline: w.baseline.filter(positive), colt: w.colt.filter(positive) }))
    .filter((w) => w.baseline.length > 0 && w.colt.length > 0);
  if (workloads.length === 0) return null;
  const random = seededRandom(seed);
  const stats: number[] = [];
  for (let i = 0; i < resamples; i++) {
    const drawn = draw(workloads, random).map((w) => ({ baseline: draw(w.baseline, random), colt: draw(w.colt, random) }));
    stats.push(geomeanRatio(drawn));
  }
  stats.sort((a, b) => a - b);
  const tail = (1 - level) / 2;
  return {
    value: geomeanRatio(workloads),
    low: quantile(stats, tail),
    high: quantile(stats, 1 - tail),
    level,
    resamples,
    workloads: workloads.length,
  };
}

function positive(x: number): boolean {
  return Number.isFinite(x) && x > 0;
}
