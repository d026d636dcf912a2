import { LlmProposer } from '../../src/llm/proposer';
import { BuiltinProposer } from '../../src/search/builtin-proposer';
import type { Proposal, ProposalContext, Proposer } from '../../src/search/types';
import { answer, FakeOpenAI, type Script } from './fake-openai';
import { configFor, contextFor, ofType, poolFor, type ModelEntry } from './helpers';

const MODELS = ['small', 'mid', 'large'];
const ENTRIES: ModelEntry[] = [
  { name: 'small', params: 1.5e9, maxRetries: 0 },
  { name: 'mid', params: 8e9, maxRetries: 0 },
  { name: 'large', params: 1e12, maxRetries: 0 },
];

/** The built-in proposer, recording what it was asked for. */
class CountingBuiltin implements Proposer {
  readonly name = 'builtin';
  private readonly inner = new BuiltinProposer();
  proposals = 0;
  feedbacks = 0;
  async propose(ctx: ProposalContext): Promise<Proposal> {
    this.proposals += 1;
    return this.inner.propose(ctx);
  }
  feedback(p: Proposal, improved: boolean): void {
    this.feedbacks += 1;
    this.inner.feedback(p, improved);
  }
}

let server: FakeOpenAI;
afterEach(() => server.close());

async function setup(script: Script, extra: Record<string, unknown> = {}, entries = ENTRIES) {
  server = await FakeOpenAI.start({ script });
  const harness = poolFor(configFor(server.baseURL, entries, extra), {}, { cacheSize: 0 });
  const builtin = new CountingBuiltin();
  const proposer = (name: string) => new LlmProposer(harness.pool, name, { fallback: builtin });
  return { ...harness, builtin, proposer };
}

describe('LlmProposer', () => {
  it('turns a good answer into the joint action, and books its hit', async () => {
    const { proposer, pool, builtin } = await setup(() => ({
      content: answer([{ mutator: 'MutateTileSize' }, { set_decision: { inst: 2, value: 7 } }], 'mid'),
    }));
    const small = proposer('small');
    const proposal = await small.propose(contextFor(MODELS));
    expect(proposal).toEqual({
      transformations: [
        { kind: 'mutator', name: 'MutateTileSize' },
        { kind: 'setDecision', instIndex: 2, value: 7 },
      ],
      nextModel: 'mid',
    });
    expect(builtin.proposals).toBe(0);
    small.feedback(proposal, true);
    expect(pool.stats('small')).toMatchObject({ calls: 1, proposals: 1, hits: 1, errors: 0 });
    expect(builtin.feedbacks).toBe(1);
    // The prompt went to the right model and holds the node's decisions.
    expect(server.chats[0].model).toBe('small');
    expect(server.chats[0].messages[1].content).toContain('- inst 2 SampleCategorical: 3');
  });

  it('reads JSON inside fences and prose', async () => {
    const { proposer, events } = await setup(({ n }) => ({
      content:
        n === 1
          ? `Here you go:\n\`\`\`json\n${answer(['tile size'], 'large')}\n\`\`\``
          : `I would unroll. ${answer(['mutate_unroll'], 'Small')} Hope that helps!`,
    }));
    const p = proposer('mid');
    expect(await p.propose(contextFor(MODELS))).toEqual({ transformations: [{ kind: 'mutator', name: 'MutateTileSize' }], nextModel: 'large' });
    expect(await p.propose(contextFor(MODELS))).toEqual({ transformations: [{ kind: 'mutator', name: 'MutateUnroll' }], nextModel: 'small' });
    expect(ofType(events, 'llm_parse')).toEqual([]);
  });

  it('falls back to the built-in proposer on malformed JSON and counts the error', async () => {
    const { proposer, pool, builtin, events } = await setup(() => ({ content: '{"transformations": [MutateTileSize], next_model: small' }));
    const proposal = await proposer('small').propose(contextFor(MODELS));
    expect(builtin.proposals).toBe(1);
    expect(proposal.transformations.length).toBeGreaterThan(0);
    // No JSON, so no next model: the search keeps the acting model's label.
    expect(proposal.nextModel).toBeUndefined();
    expect(pool.stats('small')).toMatchObject({ errors: 1, fallbacks: 1, calls: 1 });
    expect(ofType(events, 'llm_parse')).toEqual([
      { type: 'llm_parse', model: 'small', purpose: 'propose', issues: [expect.stringMatching(/^no JSON object found/)], transformations: 0, fallback: true },
    ]);
    expect(pool.recentErrors('small')[0]).toMatch(/^no JSON object found/);
  });

  it('skips unknown transformations; with nothing left it expands at random but keeps the chosen model', async () => {
    const { proposer, pool, builtin } = await setup(({ n }) => ({
      content: n === 1 ? answer(['MutateEverything', 'MutateUnroll', 'Vectorize'], 'large') : answer(['MutateEverything'], 'large'),
    }));
    const p = proposer('small');
    expect(await p.propose(contextFor(MODELS))).toEqual({ transformations: [{ kind: 'mutator', name: 'MutateUnroll' }], nextModel: 'large' });
    expect(pool.stats('small').errors).toBe(2);
    const random = await p.propose(contextFor(MODELS));
    expect(builtin.proposals).toBe(1);
    expect(random.nextModel).toBe('large');
    expect(random.transformations.length).toBeGreaterThan(0);
    expect(pool.stats('small')).toMatchObject({ errors: 3, fallbacks: 1 });
    // The errors reach the model's next prompt.
    await p.propose(contextFor(MODELS));
    expect(server.chats[2].messages[1].content).toContain('- unknown transformation "MutateEverything"');
  });

  it('hands an unknown next model to the model with the best hit rate', async () => {
    const { proposer } = await setup(({ model }) => ({ content: answer(['MutateUnroll'], model === 'small' ? 'gpt-7' : 'small') }));
    const small = proposer('small');
    const mid = proposer('mid');
    const large = proposer('large');
    // Before any hit all rates are 0: the smallest model wins the tie.
    expect((await small.propose(contextFor(MODELS))).nextModel).toBe('small');
    const m = await mid.propose(contextFor(MODELS));
    mid.feedback(m, true);
    const l = await large.propose(contextFor(MODELS));
    large.feedback(l, false);
    expect((await small.propose(contextFor(MODELS))).nextModel).toBe('mid');
  });

  it('falls back on a failed call and keeps going', async () => {
    const { proposer, pool, builtin, events } = await setup(({ n }) => (n === 1 ? { status: 500 } : { content: answer(['MutateUnroll'], 'small') }));
    const p = proposer('small');
    const fallback = await p.propose(contextFor(MODELS));
    expect(builtin.proposals).toBe(1);
    expect(fallback.transformations.length).toBeGreaterThan(0);
    expect(pool.stats('small')).toMatchObject({ calls: 1, failedCalls: 1, errors: 1, fallbacks: 1 });
    // The built-in proposer's luck is not the model's hit, but the turn still counts.
    p.feedback(fallback, true);
    expect(pool.stats('small')).toMatchObject({ proposals: 1, hits: 0 });
    expect(ofType(events, 'llm_call')[0]).toMatchObject({ ok: false, errorKind: 'server' });
    expect(await p.propose(contextFor(MODELS))).toEqual({ transformations: [{ kind: 'mutator', name: 'MutateUnroll' }], nextModel: 'small' });
  });

  it('hands every turn to the built-in proposer once the call budget is spent, and says when once', async () => {
    const { proposer, pool, builtin, events } = await setup(() => ({ content: answer(['MutateUnroll'], 'mid') }), { llmBudget: 3 });
    const small = proposer('small');
    const mid = proposer('mid');
    // Its prompts show TVMScript, which the search fetches for it while LLMs take the turns.
    expect(small.wantsTvmScript()).toBe(true);
    for (let i = 0; i < 6; i++) {
      const p = i % 2 === 0 ? small : mid;
      const proposal = await p.propose(contextFor(MODELS, { trialsUsed: 10 * i }));
      p.feedback(proposal, true);
    }
    expect(server.chats).toHaveLength(3);
    // The built-in proposer, which acts from now on, reads no TVMScript: the search need not print it.
    expect(small.wantsTvmScript()).toBe(false);
    expect(mid.wantsTvmScript()).toBe(false);
    expect(builtin.proposals).toBe(3);
    expect(ofType(events, 'llm_budget')).toEqual([{ type: 'llm_budget', reason: 'calls', trialsUsed: 30, calls: 3, costUsd: 0 }]);
    expect(pool.budgetSwitch()).toEqual({ reason: 'calls', trialsUsed: 30, calls: 3, costUsd: 0 });
    // Turns after the switch do not count towards the models' hit rates.
    expect(pool.stats('small').proposals + pool.stats('mid').proposals).toBe(3);
    expect(pool.summary().budgetSwitch).toMatchObject({ trialsUsed: 30 });
  });

  it('stops at the money budget, shared by all models', async () => {
    const priced = ENTRIES.map((e) => ({ ...e, price: { inputPerMTok: 1, outputPerMTok: 2 } }));
    const { proposer, events, pool } = await setup(() => ({ content: answer(['MutateUnroll'], 'mid') }), { moneyBudget: 0.002 }, priced);
    for (let i = 0; i < 20; i++) await proposer(MODELS[i % 3]).propose(contextFor(MODELS));
    const costs = ofType(events, 'llm_call').map((e) => e.costUsd);
    const spent = costs.reduce((a, b) => a + b, 0);
    expect(costs.length).toBeGreaterThan(1);
    expect(costs.length).toBeLessThan(20);
    expect(new Set(ofType(events, 'llm_call').map((e) => e.model)).size).toBe(3);
    // Calls stop at the first one that crossed the line.
    expect(spent).toBeGreaterThanOrEqual(0.002);
    expect(spent - costs[costs.length - 1]).toBeLessThan(0.002);
    expect(pool.summary().totals.costUsd).toBeCloseTo(spent, 12);
    expect(ofType(events, 'llm_budget')).toEqual([{ type: 'llm_budget', reason: 'money', trialsUsed: 16, calls: costs.length, costUsd: spent }]);
    expect(server.chats).toHaveLength(costs.length);
  });

  it('answers a correction from the large model, and declines once the budget is spent', async () => {
    const { proposer, pool } = await setup(({ n }) => (n === 1 ? { content: answer(['tile'], 'small') } : { content: 'no idea' }), {
      llmBudget: 2,
    });
    const large = proposer('large');
    const request = {
      model: 'small',
      proposal: { transformations: [{ kind: 'mutator' as const, name: 'MutateUnroll' }] },
      parentScore: 0.8,
      childScore: 0.5,
      streak: 2,
      history: [],
    };
    expect(await large.correct(contextFor(MODELS), request)).toEqual({
      transformations: [{ kind: 'mutator', name: 'MutateTileSize' }],
      nextModel: 'small',
    });
    expect(server.chats[0].messages[0].content).toContain('You are the largest model.');
    // An unusable correction is an empty proposal (the search reports it), not a random one.
    expect(await large.correct(contextFor(MODELS), request)).toEqual({ transformations: [] });
    expect(await large.correct(contextFor(MODELS), request)).toBeUndefined();
    expect(pool.stats('large')).toMatchObject({ calls: 2, corrections: 2, errors: 1 });
  });
});
