// Tuning curves from MetaSchedule database lines: failures skipped, best-so-far monotone.
import { bestCurve, bestRecordWithin, curveAt, trialsFromRecords } from '../../src/bench';

const line = (runSecs: number[] | null): string =>
  JSON.stringify([0, [[[], []], runSecs, { kind: 'llvm' }, [['TENSOR', 'float32', [1, 2]]]]]);

describe('trialsFromRecords', () => {
  it('reads mean run times in µs, in line order, with failed trials as null', () => {
    const text = [line([2e-4, 4e-4]), line([1e10]), '', line([1e-4]), line(null)].join('\n');
    expect(trialsFromRecords(text)).toEqual([expect.closeTo(300, 6), null, expect.closeTo(100, 6), null]);
  });
});

describe('bestCurve', () => {
  it('is the best latency so far: null before any success, then never increasing', () => {
    const curve = bestCurve([null, 300, 500, 100, null, 200]);
    expect(curve).toEqual([null, 300, 300, 100, 100, 100]);
  });
});

describe('bestRecordWithin', () => {
  it('finds the record line of the best trial among the first N', () => {
    const trials = [300, null, 100, 50];
    expect(bestRecordWithin(trials, 1)).toBe(0);
    expect(bestRecordWithin(trials, 3)).toBe(2);
    expect(bestRecordWithin(trials, 99)).toBe(3);
    expect(bestRecordWithin([null, null], 2)).toBeNull();
  });
});

describe('curveAt', () => {
  it('keeps the last value for a run that stopped before the budget', () => {
    expect(curveAt([300, 100], 64)).toBe(100);
    expect(curveAt([300, 100, 90], 2)).toBe(100);
    expect(curveAt([], 8)).toBeNull();
  });
});
