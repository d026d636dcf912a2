// A trial whose outputs differ from the untuned build's (WRONG_RESULT) is the schedule's failure:
// it spends the trial, and its time, however fast, is never the best.
import { BuiltinProposer } from '../../src/search/builtin-proposer';
import { Search, type SearchEvent } from '../../src/search';
import type { MeasureOutcome } from '../../src/search/types';
import { fakeClock, FakeSpace } from './fake-space';

/** The fastest schedules compute the wrong thing: the bridge reports them as WRONG_RESULT. */
class FastButWrongSpace extends FakeSpace {
  readonly wrong = new Set<string>();

  constructor(private readonly below: number) {
    super();
  }

  async measure(traceJsons: string[]): Promise<MeasureOutcome[]> {
    const outcomes = await super.measure(traceJsons);
    return outcomes.map((o, i) => {
      if (!o.ok || this.latency(JSON.parse(traceJsons[i]) as number[]) >= this.below) return o;
      this.wrong.add(traceJsons[i]);
      return { ok: false, code: 'WRONG_RESULT', message: 'argument 2 (float32[64x64]): 12 of 4096 values differ' };
    });
  }
}

describe('wrong results', () => {
  it('count as trials, are recorded as failures, and are never the best', async () => {
    const truth = new FakeSpace();
    // A threshold the search beats with ease: the best it would find is below it.
    const unchecked = await new Search({ maxTrials: 48, seed: 5 }, { space: truth, proposers: { builtin: new BuiltinProposer() }, clock: fakeClock().now }).run();
    const threshold = (unchecked.best?.latencySec ?? 0) * 1.5;

    const space = new FastButWrongSpace(threshold);
    const events: SearchEvent[] = [];
    const result = await new Search(
      { maxTrials: 48, seed: 5 },
      { space, proposers: { builtin: new BuiltinProposer() }, clock: fakeClock().now },
    ).run((e) => events.push(e));

    expect(space.wrong.size).toBeGreaterThan(0);
    expect(result.trialsUsed).toBe(48);
    expect(space.measured).toHaveLength(48);
    const wrong = result.measurements.filter((m) => m.error === 'WRONG_RESULT');
    expect(wrong.map((m) => m.traceJson).sort()).toEqual([...space.wrong].sort());
    expect(wrong.every((m) => m.latencySec === undefined)).toBe(true);
    expect(result.best).toBeDefined();
    expect(space.wrong.has(result.best?.traceJson ?? '')).toBe(false);
    expect(result.best?.latencySec).toBeGreaterThanOrEqual(threshold);
    const reported = events.flatMap((e) => (e.type === 'measure' ? e.batch : []));
    expect(reported.filter((t) => t.error === 'WRONG_RESULT')).toHaveLength(wrong.length);
    expect(events.every((e) => e.type !== 'measure' || (e.bestLatencySec ?? Infinity) >= threshold)).toBe(true);
  });
});
