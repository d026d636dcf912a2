import { BuiltinProposer } from '../../src/search/builtin-proposer';
import type { SearchOptions } from '../../src/search/options';
import { Search, type SearchEvent, type SearchResult, type SearchSnapshot } from '../../src/search';
import type { Proposal, ProposalContext, Proposer } from '../../src/search/types';
import { fakeClock, FakeSpace } from './fake-space';

async function runSearch(
  space: FakeSpace,
  options: SearchOptions,
  proposers: Record<string, Proposer> = { builtin: new BuiltinProposer() },
  clock = fakeClock(),
): Promise<{ result: SearchResult; events: SearchEvent[] }> {
  const events: SearchEvent[] = [];
  const result = await new Search(options, { space, proposers, clock: clock.now }).run((e) => events.push(e));
  return { result, events };
}

const ofType = <T extends SearchEvent['type']>(events: SearchEvent[], type: T) =>
  events.filter((e): e is Extract<SearchEvent, { type: T }> => e.type === type);

/** Every score the space's cost model gave, by trace (the latest for each). */
function recordPredictions(space: FakeSpace): Map<string, number> {
  const predicted = new Map<string, number>();
  const predict = space.predict.bind(space);
  space.predict = async (ts) => {
    const scores = await predict(ts);
    ts.forEach((t, i) => predicted.set(t, scores[i]));
    return scores;
  };
  return predicted;
}

/** A proposer with a fixed answer, recording what it was asked. */
class ScriptedProposer implements Proposer {
  readonly seen: ProposalContext[] = [];
  constructor(
    readonly name: string,
    private readonly nextModel?: string,
  ) {}
  async propose(ctx: ProposalContext): Promise<Proposal> {
    this.seen.push(ctx);
    return { transformations: [{ kind: 'mutator', name: 'MutateTileSize' }], nextModel: this.nextModel };
  }
}

describe('Search budget', () => {
  it('spends exactly maxTrials, failed measurements included, measuring each schedule once', async () => {
    // About one schedule in five fails to build.
    const space = new FakeSpace({ buildFails: (xs) => (xs[0] + xs[1]) % 5 === 0 });
    const { result, events } = await runSearch(space, { maxTrials: 37, seed: 1 });
    expect(result.stopReason).toBe('trials');
    expect(result.trialsUsed).toBe(37);
    expect(space.measured).toHaveLength(37);
    expect(new Set(space.measured).size).toBe(37);
    // The first batch is half of trialsPerIter.
    expect(space.measureBatches.map((b) => b.length)).toEqual([8, 16, 13]);
    const failed = result.measurements.filter((m) => m.error);
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((m) => m.error === 'BUILD_FAILED')).toBe(true);
    expect(result.measurements).toHaveLength(37);
    const measureEvents = ofType(events, 'measure');
    expect(measureEvents.map((e) => e.trialsUsed)).toEqual([8, 24, 37]);
    expect(result.rounds).toBe(3);
    expect(events[events.length - 1]).toEqual({ type: 'done', reason: 'trials' });
  });

  it('stops on the time budget read from the injected clock', async () => {
    const clock = fakeClock();
    // Each measurement batch takes 10 s of fake time.
    const space = new FakeSpace({ onMeasure: () => clock.advance(10_000) });
    const { result } = await runSearch(space, { maxTrials: 1000, timeBudgetSec: 25 }, undefined, clock);
    expect(result.stopReason).toBe('time');
    expect(result.rounds).toBe(3);
    expect(result.trialsUsed).toBe(8 + 16 + 16);
    expect(result.timings.measureSec).toBeCloseTo(30);
    expect(result.timings.totalSec).toBeCloseTo(30);
    expect(result.timings.searchSec).toBeCloseTo(0);
  });

  it('stops with "exhausted" when the space holds only a few schedules', async () => {
    const space = new FakeSpace({ dims: 2, values: 2 });
    const { result, events } = await runSearch(space, { maxTrials: 100, trialsPerIter: 4 });
    expect(result.stopReason).toBe('exhausted');
    expect(result.trialsUsed).toBe(4);
    expect(new Set(space.measured).size).toBe(4);
    expect(ofType(events, 'expand').some((e) => e.duplicate)).toBe(true);
  });

  it('stops when cancelled, after the step in flight', async () => {
    const space = new FakeSpace();
    const search = new Search({ maxTrials: 200 }, {
      space,
      proposers: { builtin: new BuiltinProposer() },
      clock: fakeClock().now,
    });
    const result = await search.run((e) => {
      if (e.type === 'measure' && e.round === 2) search.cancel();
    });
    expect(result.stopReason).toBe('cancelled');
    expect(result.trialsUsed).toBe(8 + 16);
  });
});

describe('Search tree', () => {
  it('never adds or measures a schedule already in the tree', async () => {
    // Values 0..3 in 3 dims: 64 schedules, so mutations often land on known ones.
    const space = new FakeSpace({ dims: 3, values: 4 });
    const { result, events } = await runSearch(space, { maxTrials: 40, trialsPerIter: 8, seed: 3 });
    const expands = ofType(events, 'expand');
    expect(expands.filter((e) => e.duplicate).length).toBeGreaterThan(0);
    // Every created node carries a fresh shash: the initial population plus successful expansions.
    const created = expands.filter((e) => e.ok).length;
    const population = ofType(events, 'population').reduce((n, e) => n + e.count, 0);
    expect(result.nodes).toBe(created + population);
    expect(new Set(space.measured).size).toBe(space.measured.length);
  });

  it('stops expanding a node once it has failed maxFailures times', async () => {
    // The all-zeros schedule can be sampled, but nothing can be made of it.
    const space = new FakeSpace();
    const sample = space.sampleInitial.bind(space);
    space.sampleInitial = async (count, seed) => [space.candidate([0, 0, 0, 0, 0, 0]), ...(await sample(count, seed))];
    const apply = space.apply.bind(space);
    space.apply = async (trace, ts, seed) =>
      trace === '[0,0,0,0,0,0]'
        ? { ok: false, code: 'POSTPROC_FAILED', message: 'no valid mutation', outcomes: [] }
        : apply(trace, ts, seed);
    const { events } = await runSearch(space, { maxTrials: 96, maxFailures: 3 });
    const stuck = ofType(events, 'expand').filter((e) => e.parentId === 1);
    expect(stuck).toHaveLength(3);
    expect(stuck.every((e) => !e.ok && e.code === 'POSTPROC_FAILED')).toBe(true);
  });

  it('labels a child with the next model its proposer named when known, else the acting model', async () => {
    const small = new ScriptedProposer('small', 'big');
    const big = new ScriptedProposer('big', 'gpt-unknown');
    const space = new FakeSpace();
    const { result, events } = await runSearch(
      space,
      { maxTrials: 48, defaultModel: 'small' },
      { small, big },
    );
    const expands = ofType(events, 'expand').filter((e) => e.ok);
    const bySmall = expands.filter((e) => e.model === 'small');
    const byBig = expands.filter((e) => e.model === 'big');
    expect(bySmall.length).toBeGreaterThan(0);
    expect(byBig.length).toBeGreaterThan(0);
    expect(bySmall.every((e) => e.nextModel === 'big')).toBe(true);
    expect(byBig.every((e) => e.nextModel === 'big')).toBe(true);
    // And the label decides who acts: every node created by small is expanded by big.
    const labels = new Map(expands.map((e) => [e.nodeId, e.nextModel]));
    for (const e of ofType(events, 'expand')) {
      expect(e.model).toBe(labels.get(e.parentId) ?? 'small');
    }
    expect(big.seen.every((ctx) => ctx.node.model === 'big' && ctx.node.expandedBy !== undefined)).toBe(true);
    expect(small.seen[0].models).toEqual(['small', 'big']);
    expect(result.perModel.small.expansions).toBe(small.seen.length);
    expect(result.perModel.big.expansions).toBe(big.seen.length);
  });

  it('gives proposers the parent and grandparent of the node', async () => {
    const p = new ScriptedProposer('builtin');
    await runSearch(new FakeSpace(), { maxTrials: 64 }, { builtin: p });
    const deep = p.seen.find((ctx) => ctx.node.depth >= 3);
    expect(deep).toBeDefined();
    expect(deep!.parent!.depth).toBe(deep!.node.depth - 1);
    expect(deep!.grandparent!.depth).toBe(deep!.node.depth - 2);
    const top = p.seen.find((ctx) => ctx.node.depth === 1)!;
    expect(top.parent).toBeUndefined();
  });
});

describe('Search quality and determinism', () => {
  it('keeps the best latency monotone and beats the initial population median', async () => {
    const space = new FakeSpace({ dims: 6, values: 12 });
    const { result, events } = await runSearch(space, { maxTrials: 96, seed: 7 });
    const history = ofType(events, 'measure').map((e) => e.bestLatencySec as number);
    for (let i = 1; i < history.length; i++) expect(history[i]).toBeLessThanOrEqual(history[i - 1]);
    const initial = (await space.sampleInitial(16, 7)).map((c) => space.latency(JSON.parse(c.traceJson)));
    initial.sort((a, b) => a - b);
    const median = (initial[7] + initial[8]) / 2;
    expect(result.best!.latencySec).toBeLessThan(median * 0.75);
    expect(result.best!.latencySec).toBe(Math.min(...result.measurements.map((m) => m.latencySec ?? Infinity)));
    expect(result.perModel.builtin.improved).toBeGreaterThan(0);
  });

  it('finds faster schedules than random sampling with the same number of trials', async () => {
    // c = 0.3, the default: the published 1.41 is nearly pure exploration for values in [0, 1].
    let searchLog = 0;
    let randomLog = 0;
    for (let seed = 0; seed < 8; seed++) {
      const space = new FakeSpace();
      const { result } = await runSearch(space, { maxTrials: 128, seed, explorationC: 0.3 });
      searchLog += Math.log(result.best!.latencySec);
      const sampled = await space.sampleInitial(128, seed + 1000);
      randomLog += Math.log(Math.min(...sampled.map((c) => space.latency(JSON.parse(c.traceJson)))));
    }
    // Geometric mean over seeds of best(search) / best(random).
    expect(Math.exp((searchLog - randomLog) / 8)).toBeLessThan(0.85);
  });

  it('repeats itself exactly for a seed and differs for another', async () => {
    const measuredWith = async (seed: number) => {
      const space = new FakeSpace();
      await runSearch(space, { maxTrials: 64, seed });
      return space.measured;
    };
    const a = await measuredWith(11);
    expect(await measuredWith(11)).toEqual(a);
    expect(await measuredWith(12)).not.toEqual(a);
  });

  it('scores new children in batches, not one cost-model call per child', async () => {
    const space = new FakeSpace();
    const { events } = await runSearch(space, { maxTrials: 64 });
    const created = ofType(events, 'expand').filter((e) => e.ok).length;
    // Batches of schedules scored for the first time; the others re-rank after a retrain.
    const seen = new Set(space.predictBatches[0]);
    const expansionBatches = space.predictBatches.slice(1).filter((b) => {
      const fresh = b.every((t) => !seen.has(t));
      b.forEach((t) => seen.add(t));
      return fresh;
    });
    expect(expansionBatches.reduce((n, b) => n + b.length, 0)).toBe(created);
    expect(expansionBatches.length).toBeLessThan(created / 4);
  });

  it('re-ranks the unmeasured schedules with the retrained cost model before each batch', async () => {
    const space = new FakeSpace();
    const { events } = await runSearch(space, { maxTrials: 48, trialsPerIter: 16 });
    const rounds = ofType(events, 'measure').length;
    expect(rounds).toBe(4); // 8 + 16 + 16 + 8
    const measured = new Set(space.measured);
    // A re-ranking batch holds only schedules scored before and not yet measured at that time.
    const seen = new Set<string>();
    let reranks = 0;
    for (const batch of space.predictBatches) {
      if (batch.length > 0 && batch.every((t) => seen.has(t))) reranks += 1;
      batch.forEach((t) => seen.add(t));
    }
    expect(reranks).toBe(rounds - 1);
    expect(measured.size).toBe(48);
  });
});

describe('Search first batch and values', () => {
  it('measures half a batch straight from the initial population before anything is expanded', async () => {
    const space = new FakeSpace();
    const { events } = await runSearch(space, { maxTrials: 40, trialsPerIter: 16, initialPopulation: 64 });
    const firstMeasure = events.findIndex((e) => e.type === 'measure');
    expect(events.slice(0, firstMeasure).some((e) => e.type === 'expand')).toBe(false);
    expect(space.measureBatches.map((b) => b.length)).toEqual([8, 16, 16]);
    const sampled = new Set(space.predictBatches[0]);
    expect(sampled.size).toBe(64);
    for (const t of space.measureBatches[0]) expect(sampled.has(t)).toBe(true);
    // After it, the rounds expand again.
    expect(ofType(events, 'expand').length).toBeGreaterThan(0);
  });

  it('expands before the first batch and measures a full one with measureFirst off and firstBatch = trialsPerIter', async () => {
    const space = new FakeSpace();
    const { events } = await runSearch(space, { maxTrials: 32, trialsPerIter: 16, firstBatch: 16, measureFirst: false });
    const firstMeasure = events.findIndex((e) => e.type === 'measure');
    expect(events.slice(0, firstMeasure).some((e) => e.type === 'expand')).toBe(true);
    expect(space.measureBatches.map((b) => b.length)).toEqual([16, 16]);
  });

  it("counts every schedule's latest predicted score once in the tree's values", async () => {
    // A cost model that changes its mind after each batch: the values must follow it.
    const space = new FakeSpace();
    let batches = 0;
    const predict = space.predict.bind(space);
    space.predict = async (ts) => (await predict(ts)).map((v) => v * (1 + batches));
    const measure = space.measure.bind(space);
    space.measure = async (ts) => {
      batches += 1;
      return measure(ts);
    };
    const search = new Search(
      { maxTrials: 24, trialsPerIter: 8, initialPopulation: 24, seed: 2 },
      { space, proposers: { builtin: new BuiltinProposer() }, clock: fakeClock().now },
    );
    let snapshot: SearchSnapshot | undefined;
    await search.run((e) => {
      if (e.type === 'measure' && e.round === 2) snapshot = search.snapshot();
    });
    const nodes = snapshot!.tree.nodes.filter((n) => !n.removed);
    // An unmeasured, unexpanded schedule's value is its one visit: its latest score, which the
    // search took after the last retraining (2 batches out by then: scores × 3).
    const leaves = nodes.filter((n) => n.candidate && n.children.length === 0 && n.measured.status === 'unmeasured');
    expect(leaves.length).toBeGreaterThan(0);
    for (const n of leaves) {
      expect(n.visits).toBe(1);
      expect(n.valueSum).toBeCloseTo(Math.max(0, n.predictedScore!), 9);
    }
    // Visits add up: the root has seen one per schedule, one per measured trial and one per
    // failed expansion.
    const root = nodes.find((n) => n.parent === null)!;
    const schedules = nodes.filter((n) => n.candidate).length;
    const measured = nodes.filter((n) => n.measured.status === 'ok').length;
    const failures = nodes.reduce((k, n) => k + n.failures, 0);
    expect(root.visits).toBe(schedules + measured + failures);
  });
});

describe('Search batch spread', () => {
  const distance = (a: string, b: string): number => {
    const xs = JSON.parse(a) as number[];
    const ys = JSON.parse(b) as number[];
    return xs.filter((x, i) => x !== ys[i]).length;
  };
  const nearPairs = (batch: string[], d: number): number => {
    let n = 0;
    batch.forEach((a, i) => batch.slice(i + 1).forEach((b) => (n += distance(a, b) < d ? 1 : 0)));
    return n;
  };

  it('picks the best predicted schedule that is batchDistance decisions from every earlier pick', async () => {
    const space = new FakeSpace();
    const predicted = recordPredictions(space);
    await runSearch(space, { maxTrials: 8, firstBatch: 8, initialPopulation: 40, batchDistance: 4 });
    const ranked = [...predicted.entries()].sort((a, b) => b[1] - a[1]).map(([t]) => t);
    const expected: string[] = [];
    for (const t of ranked) if (expected.length < 8 && expected.every((e) => distance(e, t) >= 4)) expected.push(t);
    expect(expected.length).toBe(8);
    expect(space.measureBatches[0]).toEqual(expected);
    // Without the spread the same ranking gives another batch, with near-twins in it.
    const plain = new FakeSpace();
    await runSearch(plain, { maxTrials: 8, firstBatch: 8, initialPopulation: 40, batchDistance: 1 });
    expect(plain.measureBatches[0]).toEqual(ranked.slice(0, 8));
    expect(nearPairs(plain.measureBatches[0], 4)).toBeGreaterThan(0);
  });

  it('keeps later batches spread out while the search closes in on the optimum', async () => {
    const spread = new FakeSpace();
    await runSearch(spread, { maxTrials: 56, trialsPerIter: 16, batchDistance: 3, randomShare: 0 });
    expect(spread.measureBatches.length).toBe(4);
    for (const batch of spread.measureBatches) expect(nearPairs(batch, 3)).toBe(0);
    const plain = new FakeSpace();
    await runSearch(plain, { maxTrials: 56, trialsPerIter: 16, batchDistance: 1, randomShare: 0 });
    expect(plain.measureBatches.slice(1).reduce((n, b) => n + nearPairs(b, 3), 0)).toBeGreaterThan(0);
  });

  it('fills a batch with near schedules when too few are far enough apart', async () => {
    // Two decisions of three values: at most 3 schedules differ pairwise in both.
    const space = new FakeSpace({ dims: 2, values: 3 });
    await runSearch(space, { maxTrials: 6, firstBatch: 6, initialPopulation: 30, batchDistance: 2 });
    const batch = space.measureBatches[0];
    expect(batch.length).toBe(6);
    expect(new Set(batch).size).toBe(6);
  });
});

describe('Search failures', () => {
  it('propagates an exception from measure and emits nothing after it', async () => {
    const space = new FakeSpace({
      onMeasure: (_, call) => {
        if (call === 2) throw new Error('bridge process died');
      },
    });
    const events: SearchEvent[] = [];
    const search = new Search({ maxTrials: 64 }, {
      space,
      proposers: { builtin: new BuiltinProposer() },
      clock: fakeClock().now,
    });
    await expect(search.run((e) => events.push(e))).rejects.toThrow('bridge process died');
    expect(ofType(events, 'measure')).toHaveLength(1);
    expect(ofType(events, 'done')).toHaveLength(0);
    // The failed batch is not counted: the bridge saw it, but no trial result came back.
    expect(space.measureBatches).toHaveLength(2);
    await expect(search.run()).rejects.toThrow(/runs once/);
  });

  it('propagates an exception from apply', async () => {
    const space = new FakeSpace();
    space.apply = async () => {
      throw new Error('bridge gone');
    };
    await expect(runSearch(space, { maxTrials: 16 })).rejects.toThrow('bridge gone');
  });

  it('refuses a default model without a proposer, and bad options, at construction', () => {
    const deps = { space: new FakeSpace(), proposers: { builtin: new BuiltinProposer() }, clock: () => 0 };
    expect(() => new Search({ maxTrials: 8, defaultModel: 'gpt' }, deps)).toThrow(
      expect.objectContaining({ name: 'SearchError', code: 'INVALID_OPTIONS' }),
    );
    expect(() => new Search({ maxTrials: -1, trialsPerIter: 0, randomShare: 2 }, deps)).toThrow(
      /maxTrials.*trialsPerIter.*randomShare/,
    );
  });

  it('draws one schedule per batch of 16 at random instead of by predicted score', async () => {
    const space = new FakeSpace();
    const predicted = recordPredictions(space);
    await runSearch(space, { maxTrials: 16, firstBatch: 16, expansionsPerRound: 0, initialPopulation: 40, batchDistance: 1 });
    const batch = space.measureBatches[0];
    const ranked = [...predicted.entries()].sort((a, b) => b[1] - a[1]).map(([t]) => t);
    expect(batch.slice(0, 15)).toEqual(ranked.slice(0, 15));
    expect(ranked.slice(15)).toContain(batch[15]);
    expect(ranked.slice(0, 15)).not.toContain(batch[15]);
  });
});

/** A FakeSpace that prints a trace as a one-line "TVMScript", and counts what it was asked. */
class DescribingSpace extends FakeSpace {
  readonly describeBatches: string[][] = [];
  failDescribe = false;
  async describe(traceJsons: string[]): Promise<string[]> {
    this.describeBatches.push(traceJsons);
    if (this.failDescribe) throw new Error('UNIMPLEMENTED: an older bridge');
    return traceJsons.map((t) => `@T.prim_func  # ${t}`);
  }
}

/** A ScriptedProposer that reads TVMScript. */
class ScriptReader extends ScriptedProposer {
  wantsTvmScript(): boolean {
    return true;
  }
}

describe('Search TVMScript for proposers', () => {
  it('prints the node, parent and grandparent for a proposer that reads TVMScript, and nothing for one that does not', async () => {
    const space = new DescribingSpace();
    const reader = new ScriptReader('reader', 'builtin');
    const builtin = new ScriptedProposer('builtin', 'reader');
    await runSearch(space, { maxTrials: 48, seed: 3, defaultModel: 'reader' }, { reader, builtin });
    expect(reader.seen.length).toBeGreaterThan(4);
    expect(builtin.seen.length).toBeGreaterThan(4);
    // One call per turn of the reader, none for the built-in's turns.
    expect(space.describeBatches).toHaveLength(reader.seen.length);
    for (const ctx of reader.seen) {
      for (const view of [ctx.node, ctx.parent, ctx.grandparent]) {
        if (view) expect(view.tvmscript).toBe(`@T.prim_func  # ${view.traceJson}`);
      }
    }
    expect(reader.seen.some((ctx) => ctx.grandparent?.tvmscript !== undefined)).toBe(true);
    expect(builtin.seen.every((ctx) => [ctx.node, ctx.parent, ctx.grandparent].every((v) => v?.tvmscript === undefined))).toBe(true);
  });

  it('goes on without TVMScript when the space cannot print it', async () => {
    const space = new DescribingSpace();
    space.failDescribe = true;
    const reader = new ScriptReader('reader');
    const { result } = await runSearch(space, { maxTrials: 32, seed: 3, defaultModel: 'reader' }, { reader });
    expect(result.trialsUsed).toBe(32);
    expect(space.describeBatches.length).toBeGreaterThan(0);
    expect(reader.seen.length).toBeGreaterThan(0);
    expect(reader.seen.every((ctx) => ctx.node.tvmscript === undefined)).toBe(true);
  });
});
