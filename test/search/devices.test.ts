// Measuring on several devices: batches out side by side, devices lost under their trials.
import { BuiltinProposer } from '../../src/search/builtin-proposer';
import type { SearchOptions } from '../../src/search/options';
import { Search, type SearchEvent, type SearchResult } from '../../src/search';
import type { MeasureOutcome } from '../../src/search/types';
import { fakeClock, FakeSpace, type FakeSpaceOptions } from './fake-space';

/** A space whose batches stay out until the event loop turns, logging when each goes and lands. */
class SlowSpace extends FakeSpace {
  readonly log: string[] = [];
  private calls = 0;

  constructor(options: FakeSpaceOptions = {}) {
    super(options);
  }

  async measure(traceJsons: string[]): Promise<MeasureOutcome[]> {
    const call = ++this.calls;
    this.log.push(`out ${call}`);
    await new Promise((resolve) => setImmediate(resolve));
    const outcomes = await super.measure(traceJsons);
    this.log.push(`in ${call}`);
    return outcomes;
  }
}

async function run(space: FakeSpace, options: SearchOptions): Promise<{ result: SearchResult; events: SearchEvent[] }> {
  const events: SearchEvent[] = [];
  const search = new Search(options, { space, proposers: { builtin: new BuiltinProposer() }, clock: fakeClock().now });
  const result = await search.run((e) => events.push(e));
  return { result, events };
}

const measures = (events: SearchEvent[]) =>
  events.filter((e): e is Extract<SearchEvent, { type: 'measure' }> => e.type === 'measure');

describe('batches in flight', () => {
  it('with one (the default), expanding and measuring alternate', async () => {
    const space = new SlowSpace();
    await run(space, { maxTrials: 48, seed: 3 });
    // 8 + 16 + 16 + 8 trials
    expect(space.log).toEqual(['out 1', 'in 1', 'out 2', 'in 2', 'out 3', 'in 3', 'out 4', 'in 4']);
  });

  it('with two, the next batch goes out before the last one lands, and the budget is exact', async () => {
    const space = new SlowSpace();
    const { result, events } = await run(space, { maxTrials: 37, seed: 3, maxBatchesInFlight: 2 });
    expect(space.log).toEqual(['out 1', 'out 2', 'in 1', 'out 3', 'in 2', 'in 3']);
    expect(space.measureBatches.map((b) => b.length)).toEqual([8, 16, 13]);
    expect(result.trialsUsed).toBe(37);
    expect(new Set(space.measured).size).toBe(37);
    expect(measures(events).map((e) => e.trialsUsed)).toEqual([8, 24, 37]);
    expect(result.stopReason).toBe('trials');
  });

  it('is deterministic: the same seed measures the same schedules in the same order', async () => {
    const a = new SlowSpace();
    const b = new SlowSpace();
    await run(a, { maxTrials: 40, seed: 9, trialsPerIter: 8, maxBatchesInFlight: 3 });
    await run(b, { maxTrials: 40, seed: 9, trialsPerIter: 8, maxBatchesInFlight: 3 });
    expect(b.measureBatches).toEqual(a.measureBatches);
  });

  it('lets the batches out land before a cancelled search ends', async () => {
    const space = new SlowSpace();
    const search = new Search(
      { maxTrials: 64, seed: 1, maxBatchesInFlight: 2 },
      { space, proposers: { builtin: new BuiltinProposer() }, clock: fakeClock().now },
    );
    const result = await search.run((e) => {
      if (e.type === 'measure') search.cancel();
    });
    expect(result.stopReason).toBe('cancelled');
    expect(space.log).toEqual(['out 1', 'out 2', 'in 1', 'in 2']);
    expect(result.trialsUsed).toBe(8 + 16);
  });

  it('names the device of each trial', async () => {
    const space = new FakeSpace({ devices: ['127.0.0.1:9191', '127.0.0.1:9192'] });
    const { result, events } = await run(space, { maxTrials: 8, trialsPerIter: 8 });
    expect(new Set(result.measurements.map((m) => m.device))).toEqual(new Set(['127.0.0.1:9191', '127.0.0.1:9192']));
    expect(measures(events)[0].batch.every((t) => t.device !== undefined)).toBe(true);
  });
});

describe('devices lost under a trial', () => {
  it('do not spend the trial: the budget is reached with real results, none recorded as a failure', async () => {
    // The first two batches lose every schedule whose first decision is even.
    const space = new FakeSpace({ lose: (xs, call) => call <= 2 && xs[0] % 2 === 0, devices: ['a', 'b'] });
    const { result, events } = await run(space, { maxTrials: 32, seed: 2 });
    expect(result.trialsUsed).toBe(32);
    expect(result.measurements).toHaveLength(32);
    expect(result.measurements.every((m) => m.error === undefined)).toBe(true);
    expect(new Set(space.measured).size).toBe(32);
    const lost = measures(events).flatMap((e) => e.lost ?? []);
    expect(lost.length).toBeGreaterThan(0);
    expect(lost.every((l) => l.message === 'connection reset')).toBe(true);
    // A lost schedule may be measured again later: only real runs are in the records.
    const recorded = new Set(result.measurements.map((m) => m.shash));
    expect(measures(events).flatMap((e) => e.batch).every((t) => recorded.has(t.shash))).toBe(true);
  });

  it('retire a schedule lost twice instead of trying it forever', async () => {
    const space = new FakeSpace({ lose: (xs) => xs[0] === 0 });
    const search = new Search(
      { maxTrials: 48, seed: 4, maxDeviceLosses: 2 },
      { space, proposers: { builtin: new BuiltinProposer() }, clock: fakeClock().now },
    );
    const result = await search.run();
    expect(result.trialsUsed).toBe(48);
    const tries = new Map<string, number>();
    for (const batch of space.measureBatches) for (const t of batch) tries.set(t, (tries.get(t) ?? 0) + 1);
    const lostOnes = [...tries].filter(([t]) => (JSON.parse(t) as number[])[0] === 0);
    expect(lostOnes.length).toBeGreaterThan(0);
    expect(lostOnes.every(([, n]) => n <= 2)).toBe(true);
    const snapshot = search.snapshot();
    expect(snapshot.tree.nodes.some((n) => n.measured.status === 'error' && n.lostRuns === 2)).toBe(true);
  });

  it('give up with a typed error when no device runs anything for three batches', async () => {
    const space = new FakeSpace({ lose: () => true });
    await expect(run(space, { maxTrials: 64, trialsPerIter: 8 })).rejects.toMatchObject({
      name: 'SearchError',
      code: 'MEASUREMENT_STALLED',
    });
    expect(space.measureBatches).toHaveLength(3);
    expect(space.measured).toHaveLength(0);
  });
});
