// Checkpoints: a search's state out as plain data and back, reconciled with the database.
import { BuiltinProposer } from '../../src/search/builtin-proposer';
import type { SearchOptions } from '../../src/search/options';
import { Search, type SearchEvent, type SearchSnapshot } from '../../src/search';
import type { CommittedTrial, Proposer } from '../../src/search/types';
import { fakeClock, FakeSpace } from './fake-space';
import { ScoreSpace } from './score-space';

function newSearch(space: FakeSpace, options: SearchOptions): Search {
  return new Search(options, { space, proposers: { builtin: new BuiltinProposer() }, clock: fakeClock().now });
}

/** What a database holds after the given trials: one record per measured trace, in order. */
function committedFrom(space: FakeSpace, traces: string[]): CommittedTrial[] {
  return traces.map((t) => {
    const xs = JSON.parse(t) as number[];
    const l = space.latency(xs);
    // The mean of the run times FakeSpace reports, computed as the search computes it.
    return { candidate: space.candidate(xs), latencySec: (l * 0.99 + l + l * 1.01) / 3 };
  });
}

/** Runs until `rounds` batches have landed, then stops as a killed process would: no more steps. */
async function runUntilRound(space: FakeSpace, options: SearchOptions, rounds: number): Promise<SearchSnapshot> {
  const search = newSearch(space, options);
  let snapshot: SearchSnapshot | undefined;
  await search
    .run((e: SearchEvent) => {
      if (e.type !== 'measure') return;
      // A checkpoint goes to disk as JSON: take it through JSON too.
      snapshot = JSON.parse(JSON.stringify(search.snapshot())) as SearchSnapshot;
      if (e.round === rounds) throw new Error('killed');
    })
    .catch((err: Error) => {
      if (err.message !== 'killed') throw err;
    });
  return snapshot as SearchSnapshot;
}

// Batches of 4 (the first), then 8.
const OPTIONS: SearchOptions = { maxTrials: 64, trialsPerIter: 8, seed: 5 };

describe('snapshot and restore', () => {
  it('carry on exactly where the search stopped', async () => {
    const whole = new FakeSpace();
    await newSearch(whole, OPTIONS).run();

    const first = new FakeSpace();
    const snapshot = await runUntilRound(first, OPTIONS, 3);
    expect(first.measureBatches).toEqual(whole.measureBatches.slice(0, 3));

    const second = new FakeSpace();
    const resumed = newSearch(second, OPTIONS);
    resumed.restore(snapshot, committedFrom(second, first.measured));
    const events: SearchEvent[] = [];
    const result = await resumed.run((e) => events.push(e));
    expect(events[0]).toMatchObject({ type: 'start', resumed: { trialsUsed: 4 + 8 + 8 } });
    expect(second.measureBatches).toEqual(whole.measureBatches.slice(3));
    expect(result.trialsUsed).toBe(64);
    expect(result.measurements).toHaveLength(64);
  });

  it('take the database over the snapshot: a batch committed after the checkpoint is not measured again', async () => {
    const first = new FakeSpace();
    // Killed after round 3 landed but before its checkpoint: the snapshot is round 2's.
    const search = newSearch(first, OPTIONS);
    let snapshot: SearchSnapshot | undefined;
    await search
      .run((e) => {
        if (e.type !== 'measure') return;
        if (e.round === 3) throw new Error('killed');
        snapshot = JSON.parse(JSON.stringify(search.snapshot())) as SearchSnapshot;
      })
      .catch(() => undefined);
    expect(first.measured).toHaveLength(4 + 8 + 8);

    const second = new FakeSpace();
    const resumed = newSearch(second, OPTIONS);
    resumed.restore(snapshot, committedFrom(second, first.measured));
    const result = await resumed.run();
    expect(result.trialsUsed).toBe(64);
    const all = [...first.measured, ...second.measured];
    expect(all).toHaveLength(64);
    expect(new Set(all).size).toBe(64);
  });

  it('measure again what was out when the run stopped, if the database does not have it', async () => {
    const first = new FakeSpace();
    const snapshot = await runUntilRound(first, { ...OPTIONS, maxBatchesInFlight: 2 }, 2);
    const pending = snapshot.tree.nodes.filter((n) => n.measured.status === 'pending');
    expect(pending).toHaveLength(8);

    const second = new FakeSpace();
    const resumed = newSearch(second, { ...OPTIONS, maxBatchesInFlight: 2 });
    // The database holds the two batches that landed; the third was lost with the process.
    resumed.restore(snapshot, committedFrom(second, first.measured.slice(0, 4 + 8)));
    const result = await resumed.run();
    expect(result.trialsUsed).toBe(64);
    const all = [...first.measured.slice(0, 4 + 8), ...second.measured];
    expect(new Set(all).size).toBe(64);
    expect(result.measurements).toHaveLength(64);
    expect(new Set(result.measurements.map((m) => m.shash)).size).toBe(64);
    // They were the best picks when they went out, and are again.
    const out = new Set(pending.map((n) => n.candidate!.traceJson));
    expect(second.measureBatches[0].filter((t) => out.has(t)).length).toBeGreaterThan(0);
  });

  it('rebuild from the database alone when there is no checkpoint', async () => {
    const first = new FakeSpace();
    await runUntilRound(first, OPTIONS, 2);
    const second = new FakeSpace();
    const resumed = newSearch(second, OPTIONS);
    resumed.restore(undefined, committedFrom(second, first.measured));
    const result = await resumed.run();
    expect(result.trialsUsed).toBe(64);
    expect(second.measured).toHaveLength(64 - (4 + 8));
    expect(new Set([...first.measured, ...second.measured]).size).toBe(64);
    // The best of the old trials still counts.
    const oldBest = Math.min(...first.measured.map((t) => first.latency(JSON.parse(t) as number[])));
    expect(result.best!.latencySec).toBeLessThanOrEqual(oldBest);
  });

  it('count a committed trial that no longer replays against the budget', async () => {
    const space = new FakeSpace();
    const resumed = newSearch(space, { ...OPTIONS, maxTrials: 10 });
    resumed.restore(undefined, [{}, {}, { latencySec: 1 }]);
    const result = await resumed.run();
    expect(result.trialsUsed).toBe(10);
    expect(space.measured).toHaveLength(7);
  });

  it('stop at once when the database already holds the whole budget', async () => {
    const first = new FakeSpace();
    await newSearch(first, { ...OPTIONS, maxTrials: 16 }).run();
    const second = new FakeSpace();
    const resumed = newSearch(second, { ...OPTIONS, maxTrials: 16 });
    resumed.restore(undefined, committedFrom(second, first.measured));
    const result = await resumed.run();
    expect(result.stopReason).toBe('trials');
    expect(second.measureBatches).toEqual([]);
    expect(result.trialsUsed).toBe(16);
  });
});

describe('snapshot and restore with several models', () => {
  /** A small model whose every step regresses, and a large one whose corrections score lower still. */
  const proposers = (): Record<string, Proposer> => ({
    small: { name: 'small', propose: async () => ({ transformations: [{ kind: 'setDecision', instIndex: 0, value: -0.1 }], nextModel: 'small' }) },
    large: {
      name: 'large',
      propose: async () => ({ transformations: [{ kind: 'setDecision', instIndex: 0, value: -0.1 }], nextModel: 'small' }),
      correct: async () => ({ transformations: [{ kind: 'setDecision', instIndex: 0, value: -0.3 }], nextModel: 'small' }),
    },
  });
  const options: SearchOptions = {
    maxTrials: 16,
    trialsPerIter: 4,
    initialPopulation: 2,
    measureFirst: false,
    defaultModel: 'large',
    courseAlteration: { streak: 2 },
  };

  it('keep the course-alteration streak, its regressions, escalations and per-model counts', async () => {
    const first = new ScoreSpace();
    const search = new Search(options, { space: first, proposers: proposers(), clock: fakeClock().now });
    let saved: SearchSnapshot | undefined;
    await search
      .run((e) => {
        if (e.type !== 'measure') return;
        saved = JSON.parse(JSON.stringify(search.snapshot())) as SearchSnapshot;
        throw new Error('killed');
      })
      .catch(() => undefined);
    expect(saved?.streak).toBeGreaterThan(0);
    expect(saved?.escalations.asked).toBeGreaterThan(0);

    const resumed = new Search(options, { space: new ScoreSpace(), proposers: proposers(), clock: fakeClock().now });
    const committed = first.measured.map((traceJson) => ({ candidate: { traceJson, shash: traceJson, decisions: [] }, latencySec: 1e-3 }));
    resumed.restore(saved, committed);
    let restored: SearchSnapshot | undefined;
    await resumed.run((e) => {
      if (e.type === 'start') restored = resumed.snapshot();
    });
    const { streak, regressions, escalations, perModel, recentExpanders } = saved as SearchSnapshot;
    expect(restored).toMatchObject({ streak, regressions, escalations, perModel, recentExpanders });
  });
});

describe('warm start', () => {
  it('puts the seeds in the initial population, where the cost model can pick them first', async () => {
    const space = new FakeSpace();
    // Near the optimum, and three decisions apart: a batch takes both (near-twins it spreads out).
    const seeds = [space.candidate([3, 8, 1, 6, 11, 4]), space.candidate([3, 8, 2, 6, 10, 5])];
    const search = newSearch(space, { maxTrials: 8, trialsPerIter: 8, seed: 1 });
    search.seedPopulation(seeds);
    const events: SearchEvent[] = [];
    await search.run((e) => events.push(e));
    expect(events.find((e) => e.type === 'population')).toMatchObject({ count: 64, refill: false, seeded: 2 });
    expect(space.measureBatches[0]).toEqual(expect.arrayContaining(seeds.map((s) => s.traceJson)));
  });
});
