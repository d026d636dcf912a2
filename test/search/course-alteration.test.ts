import { Search, type SearchEvent, type SearchResult } from '../../src/search';
import type { SearchOptions } from '../../src/search/options';
import type { CorrectionRequest, Proposal, ProposalContext, Proposer, Transformation } from '../../src/search/types';
import { fakeClock } from './fake-space';
import { ScoreSpace } from './score-space';

const move = (delta: number): Transformation => ({ kind: 'setDecision', instIndex: 0, value: delta });

/** Proposes the scripted score deltas in turn (the last one repeats), handing over to nextModel. */
class ScriptedProposer implements Proposer {
  readonly corrections: Array<{ ctx: ProposalContext; request: CorrectionRequest }> = [];
  private turn = 0;
  private correction = 0;

  constructor(
    readonly name: string,
    private readonly deltas: number[],
    private readonly nextModel: string,
    private readonly correctionDeltas?: Array<number | undefined>,
  ) {}

  async propose(): Promise<Proposal> {
    const delta = this.deltas[Math.min(this.turn++, this.deltas.length - 1)];
    return { transformations: [move(delta)], nextModel: this.nextModel };
  }

  async correct(ctx: ProposalContext, request: CorrectionRequest): Promise<Proposal | undefined> {
    this.corrections.push({ ctx, request });
    const script = this.correctionDeltas ?? [0.05];
    const delta = script[Math.min(this.correction++, script.length - 1)];
    return delta === undefined ? undefined : { transformations: [move(delta)], nextModel: this.nextModel };
  }
}

async function run(
  small: Proposer,
  large: Proposer,
  options: Partial<SearchOptions> = {},
): Promise<{ result: SearchResult; events: SearchEvent[]; space: ScoreSpace }> {
  const space = new ScoreSpace();
  const events: SearchEvent[] = [];
  const result = await new Search(
    {
      maxTrials: 8,
      trialsPerIter: 8,
      initialPopulation: 2,
      // One expansion phase of 12, then the only batch.
      measureFirst: false,
      firstBatch: 8,
      expansionsPerRound: 12,
      defaultModel: 'large',
      courseAlteration: { streak: 2 },
      ...options,
    },
    { space, proposers: { small, large }, clock: fakeClock().now },
  ).run((e) => events.push(e));
  return { result, events, space };
}

const escalations = (events: SearchEvent[]) =>
  events.filter((e): e is Extract<SearchEvent, { type: 'escalate' }> => e.type === 'escalate');
const expansions = (events: SearchEvent[]) =>
  events.filter((e): e is Extract<SearchEvent, { type: 'expand' }> => e.type === 'expand' && e.ok);

describe('course alteration', () => {
  it('asks the largest model on every 2nd consecutive small-model regression and keeps its better child', async () => {
    const small = new ScriptedProposer('small', [-0.1], 'small');
    const large = new ScriptedProposer('large', [0.02], 'small', [0.05]);
    const { result, events, space } = await run(small, large);

    const smallRegressions = expansions(events).filter((e) => e.model === 'small').length;
    const esc = escalations(events);
    expect(smallRegressions).toBeGreaterThanOrEqual(4);
    expect(esc).toHaveLength(Math.floor(smallRegressions / 2));
    expect(esc.map((e) => e.streak)).toEqual(esc.map((_, i) => 2 * (i + 1)));
    for (const e of esc) {
      expect(e).toMatchObject({ smallModel: 'small', largeModel: 'large', replaced: true, nextModel: 'small' });
      expect(e.largeScore).toBeCloseTo(e.parentScore + 0.05, 9);
      expect(e.smallScore).toBeCloseTo(e.parentScore - 0.1, 9);
    }
    expect(result.escalations).toEqual({ asked: esc.length, replaced: esc.length });
    expect(large.corrections).toHaveLength(esc.length);
    // The correction prompt sees the parent and the streak behind it.
    const first = large.corrections[0];
    expect(first.ctx.node.id).toBe(esc[0].parentId);
    expect(first.request).toMatchObject({ model: 'small', streak: 2 });
    expect(first.request.history).toHaveLength(2);
    expect(first.request.history[1].childScore).toBeCloseTo(esc[0].smallScore, 9);

    // A replaced child is gone: never measured, and its replacement acts in its place.
    const replacedIds = new Set(esc.map((e) => e.smallNodeId));
    const measuredIds = new Set(
      events.flatMap((e) => (e.type === 'measure' ? e.batch.map((b) => b.nodeId) : [])),
    );
    for (const id of replacedIds) expect(measuredIds.has(id)).toBe(false);
    const created = expansions(events).length + 2;
    expect(result.nodes).toBe(created);
    expect(space.measured).toHaveLength(8);
    expect(result.perModel.large.expansions).toBe(
      expansions(events).filter((e) => e.model === 'large').length + esc.length,
    );
  });

  it('keeps the small model’s child when the large model’s scores lower', async () => {
    const small = new ScriptedProposer('small', [-0.1], 'small');
    const large = new ScriptedProposer('large', [0.02], 'small', [-0.3]);
    const { result, events } = await run(small, large);
    const esc = escalations(events);
    expect(esc.length).toBeGreaterThan(0);
    for (const e of esc) {
      expect(e.replaced).toBe(false);
      expect(e.largeScore).toBeLessThan(e.smallScore);
      expect(e.nodeId).toBeUndefined();
    }
    expect(result.escalations.replaced).toBe(0);
    expect(result.nodes).toBe(expansions(events).length + 2);
  });

  it('replaces only the children the large model beats, in a mixed script', async () => {
    const small = new ScriptedProposer('small', [-0.1], 'small');
    // Better, worse, better, worse...: -0.05 still beats the small child's -0.1; -0.2 does not.
    const large = new ScriptedProposer('large', [0.02], 'small', [-0.05, -0.2, 0.1, -0.2]);
    const { events } = await run(small, large);
    const esc = escalations(events);
    expect(esc.length).toBeGreaterThanOrEqual(4);
    expect(esc.slice(0, 4).map((e) => e.replaced)).toEqual([true, false, true, false]);
    for (const e of esc) expect(e.replaced).toBe((e.largeScore as number) >= e.smallScore);
  });

  it('resets the streak when a small model does not regress, and ignores the large model’s own', async () => {
    // Small: down, up, down, down, down, down... The up resets: the first escalation comes at
    // the 4th small expansion, not the 2nd.
    const small = new ScriptedProposer('small', [-0.1, 0.1, -0.1, -0.1, -0.1, -0.1, -0.1], 'small');
    // The large model always regresses too: it must not count.
    const large = new ScriptedProposer('large', [-0.5], 'small', [0.05]);
    const { events } = await run(small, large, { courseAlteration: { streak: 2 } });
    const esc = escalations(events);
    expect(esc.length).toBeGreaterThan(0);
    expect(esc[0].streak).toBe(2);
    const smallChildren = expansions(events).filter((e) => e.model === 'small');
    // The first escalation is about the 4th small child (index 3).
    expect(esc[0].smallNodeId).toBe(smallChildren[3].nodeId);
  });

  it('follows K from the options: every 3rd regression with streak 3', async () => {
    const small = new ScriptedProposer('small', [-0.1], 'small');
    const large = new ScriptedProposer('large', [0.02], 'small', [0.05]);
    const { events } = await run(small, large, { courseAlteration: { streak: 3 } });
    const esc = escalations(events);
    expect(esc.length).toBeGreaterThan(0);
    expect(esc.map((e) => e.streak)).toEqual(esc.map((_, i) => 3 * (i + 1)));
  });

  it('is off by default, and a declined correction leaves the tree as it was', async () => {
    const small = new ScriptedProposer('small', [-0.1], 'small');
    const large = new ScriptedProposer('large', [0.02], 'small', [undefined]);
    const off = await run(small, new ScriptedProposer('large', [0.02], 'small'), { courseAlteration: undefined });
    expect(escalations(off.events)).toHaveLength(0);
    expect(off.result.escalations).toEqual({ asked: 0, replaced: 0 });

    const declined = await run(new ScriptedProposer('small', [-0.1], 'small'), large);
    expect(large.corrections.length).toBeGreaterThan(0);
    expect(escalations(declined.events)).toHaveLength(0);
    expect(declined.result.escalations.asked).toBe(0);
  });

  it('asks propose() of a proposer without correct(), and repeats itself for a seed', async () => {
    const plain = (name: string, deltas: number[]): Proposer => {
      const p = new ScriptedProposer(name, deltas, 'small');
      return { name, propose: () => p.propose() };
    };
    const once = () => run(plain('small', [-0.1]), plain('large', [0.05]), { seed: 3 });
    const a = await once();
    const b = await once();
    expect(escalations(a.events).length).toBeGreaterThan(0);
    expect(escalations(a.events).every((e) => e.replaced)).toBe(true);
    expect(b.events).toEqual(a.events);
  });

  it('refuses a correcting model that has no proposer', () => {
    const p = new ScriptedProposer('small', [0], 'small');
    expect(
      () =>
        new Search(
          { maxTrials: 8, defaultModel: 'small', courseAlteration: { streak: 2, model: 'gpt-huge' } },
          { space: new ScoreSpace(), proposers: { small: p }, clock: () => 0 },
        ),
    ).toThrow(/courseAlteration.model/);
    expect(
      () =>
        new Search(
          { maxTrials: 8, defaultModel: 'small', courseAlteration: { streak: 0 } },
          { space: new ScoreSpace(), proposers: { small: p }, clock: () => 0 },
        ),
    ).toThrow(/courseAlteration.streak/);
  });
});
