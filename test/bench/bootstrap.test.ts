// The bootstrap interval on the geometric mean of evolutionary / COLT: reproducible, right on
// inputs whose answer is known, around its point estimate, and narrower with more data.
import { bootstrapGeomeanRatio, geomeanRatio, seededRandom, type WorkloadSamples } from '../../src/bench';

/** n workloads of `seeds` seeds each, ratios scattered around `center` by a seeded generator. */
function noisy(n: number, seeds: number, center: number, seed = 1): WorkloadSamples[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, () => ({
    baseline: Array.from({ length: seeds }, () => center * 100 * Math.exp((random() - 0.5) * 0.8)),
    colt: Array.from({ length: seeds }, () => 100 * Math.exp((random() - 0.5) * 0.8)),
  }));
}

describe('bootstrapGeomeanRatio', () => {
  it('gives the same interval for the same seed, and another for another seed', () => {
    const data = noisy(6, 5, 1.2);
    const a = bootstrapGeomeanRatio(data, { seed: 7 });
    expect(bootstrapGeomeanRatio(data, { seed: 7 })).toEqual(a);
    expect(bootstrapGeomeanRatio(data, { seed: 8 })).not.toEqual(a);
    expect(bootstrapGeomeanRatio(data)).toEqual(bootstrapGeomeanRatio(data));
  });

  it('is the point itself when every resample is the same', () => {
    const data = [
      { baseline: [200, 200], colt: [100, 100] },
      { baseline: [300], colt: [150] },
    ];
    expect(bootstrapGeomeanRatio(data)).toEqual({ value: 2, low: 2, high: 2, level: 0.9, resamples: 2000, workloads: 2 });
  });

  it('spans the extremes when two workloads disagree: ratios 1 and 4 give a 90% interval of 1 to 4', () => {
    // Drawing 2 of {1x, 4x}: both 1x (p = 1/4), one of each (1/2, geomean 2x), both 4x (1/4).
    const data = [
      { baseline: [100], colt: [100] },
      { baseline: [400], colt: [100] },
    ];
    const i = bootstrapGeomeanRatio(data)!;
    expect(i.value).toBeCloseTo(2, 12);
    expect(i.low).toBeCloseTo(1, 12);
    expect(i.high).toBeCloseTo(4, 12);
    // A 40% interval leaves out the 1/4 in each tail: only the middle value remains.
    const narrow = bootstrapGeomeanRatio(data, { level: 0.4 })!;
    expect([narrow.low, narrow.high].map((v) => Number(v.toFixed(12)))).toEqual([2, 2]);
  });

  it('contains its point estimate', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const data = noisy(4, 3, 1.3, seed);
      const i = bootstrapGeomeanRatio(data)!;
      expect(i.value).toBeCloseTo(geomeanRatio(data), 12);
      expect(i.low).toBeLessThanOrEqual(i.value);
      expect(i.high).toBeGreaterThanOrEqual(i.value);
      expect(i.low).toBeLessThan(i.high);
    }
  });

  it('narrows with more workloads and more seeds', () => {
    const width = (d: WorkloadSamples[]) => {
      const i = bootstrapGeomeanRatio(d, { resamples: 1000 })!;
      return Math.log(i.high) - Math.log(i.low);
    };
    const small = width(noisy(3, 2, 1.3));
    const medium = width(noisy(12, 5, 1.3));
    const large = width(noisy(36, 10, 1.3));
    expect(medium).toBeLessThan(small);
    expect(large).toBeLessThan(medium / 1.5);
  });

  it('leaves out workloads missing a side, and answers null when none is left', () => {
    const i = bootstrapGeomeanRatio([
      { baseline: [200], colt: [100] },
      { baseline: [], colt: [100] },
    ]);
    expect(i).toMatchObject({ value: 2, workloads: 1 });
    expect(bootstrapGeomeanRatio([{ baseline: [], colt: [1] }])).toBeNull();
  });
});

describe('seededRandom', () => {
  it('repeats its sequence for a seed and stays in [0, 1)', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(xs);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    // Roughly uniform: the mean of 1000 draws is near 1/2.
    expect(Math.abs(xs.reduce((s, x) => s + x, 0) / xs.length - 0.5)).toBeLessThan(0.05);
  });
});
