import { Rng, weightedIndex } from '../../src/search/rng';

function draws(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => rng.next());
}

describe('Rng', () => {
  it('repeats its stream for the same seed and differs across seeds', () => {
    expect(draws(new Rng(42), 20)).toEqual(draws(new Rng(42), 20));
    expect(draws(new Rng(42), 20)).not.toEqual(draws(new Rng(43), 20));
    // Seeds above 2^32 (int64 on the wire) must not collapse onto their low bits.
    expect(draws(new Rng(2 ** 32 + 7), 5)).not.toEqual(draws(new Rng(7), 5));
  });

  it('draws in range', () => {
    const rng = new Rng(1);
    const us = draws(rng, 2000);
    expect(us.every((u) => u >= 0 && u < 1)).toBe(true);
    const ks = Array.from({ length: 2000 }, () => rng.int(7));
    expect(ks.every((k) => Number.isInteger(k) && k >= 0 && k < 7)).toBe(true);
    expect(new Set(ks).size).toBe(7);
    expect(() => rng.int(0)).toThrow(RangeError);
    expect(() => rng.pick([])).toThrow(RangeError);
  });

  it('forks deterministic, independent streams without advancing the parent', () => {
    const a = new Rng(5);
    const b = new Rng(5);
    const forkA = a.fork('measure');
    expect(draws(forkA, 10)).toEqual(draws(b.fork('measure'), 10));
    expect(draws(a.fork('propose'), 10)).not.toEqual(draws(a.fork('measure'), 10));
    expect(draws(a, 10)).toEqual(draws(new Rng(5), 10));
  });

  it('draws weighted choices in proportion to the weights', () => {
    const rng = new Rng(9);
    const counts = [0, 0, 0];
    for (let i = 0; i < 20000; i++) counts[rng.weighted([0.7, 0, 0.3])]++;
    expect(counts[1]).toBe(0);
    expect(counts[0] / 20000).toBeCloseTo(0.7, 1);
    expect(weightedIndex([0, 0], 0.5)).toBe(-1);
    expect(weightedIndex([1, 2], 0.999999999)).toBe(1);
    expect(() => weightedIndex([1, -1], 0.5)).toThrow(RangeError);
  });
});
