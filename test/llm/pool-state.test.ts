// The LLM side of a run as checkpoints keep it: the pool's account (budget spent, per-model
// calls, tokens, money, hit rates, recent errors) and the shared fallback's statistics go out as
// plain JSON and come back into a fresh pool, which then carries on where the first stopped.
import { BuiltinProposer } from '../../src/search/builtin-proposer';
import { parseModelsConfig } from '../../src/llm/config';
import { llmSearchWiring } from '../../src/llm/setup';
import { answer, FakeOpenAI } from './fake-openai';
import { contextFor, ofType, poolFor } from './helpers';

const messages = (text: string) => [
  { role: 'system' as const, content: 'answer JSON' },
  { role: 'user' as const, content: text },
];

let server: FakeOpenAI;
beforeAll(async () => {
  server = await FakeOpenAI.start({
    script: ({ model, n }) => (model === 'tiny' && n === 2 ? { status: 400, message: 'no' } : { content: answer(['MutateTileSize'], 'big') }),
  });
});
afterAll(() => server.close());

const bucket = () =>
  parseModelsConfig({
    models: [
      { name: 'builtin', builtin: true },
      { name: 'tiny', baseURL: server.baseURL, params: 1e8, price: { inputPerMTok: 1, outputPerMTok: 2 }, maxRetries: 0 },
      { name: 'big', baseURL: server.baseURL, params: 1e12, price: { inputPerMTok: 3, outputPerMTok: 9 } },
    ],
    llmBudget: 4,
  });

describe('model pool state', () => {
  it('round-trips through JSON: a fresh pool carries on with the budget spent and every count', async () => {
    const first = poolFor(bucket()).pool;
    await first.ask('tiny', messages('one'), 'propose');
    await expect(first.ask('tiny', messages('two'), 'propose')).rejects.toThrow();
    await first.ask('big', messages('three'), 'correct');
    first.noteOutcome('tiny', true);
    first.noteOutcome('tiny', false);
    first.noteOutcome('builtin', true);
    first.noteAnswer('big', 'correct', { issues: ['unknown transformation "MutateAll"'], transformations: 0, fallback: false });

    const saved = JSON.parse(JSON.stringify(first.snapshot())) as unknown;
    const { pool: second, events } = poolFor(bucket());
    second.restore(saved);

    expect(second.summary()).toEqual(first.summary());
    expect(second.stats('builtin')).toEqual(first.stats('builtin'));
    expect(second.recentErrors('big')).toEqual(['unknown transformation "MutateAll"']);
    expect(second.recentErrors('tiny')).toEqual(['call failed: bad_request']);
    expect(second.bestHitRateModel()).toBe('builtin');
    // Three of four calls were spent: one more, then the budget is gone.
    expect(second.llmOff(10)).toBe(false);
    await second.ask('big', messages('four'), 'propose');
    expect(second.llmOff(12)).toBe(true);
    expect(second.summary().totals.calls).toBe(4);
    expect(second.summary().perModel.big.calls).toBe(2);
    expect(ofType(events, 'llm_budget')).toEqual([{ type: 'llm_budget', reason: 'calls', trialsUsed: 12, calls: 4, costUsd: second.summary().totals.costUsd }]);

    // When the budget ran out is kept too, and the LLMs stay off.
    const third = poolFor(bucket()).pool;
    third.restore(JSON.parse(JSON.stringify(second.snapshot())));
    expect(third.budgetSwitch()).toEqual(second.budgetSwitch());
    expect(third.llmOff(20)).toBe(true);
    expect(third.summary().budgetSwitch).toMatchObject({ trialsUsed: 12 });
  });

  it('takes what it can from a state it only half understands, and nothing from garbage', () => {
    const { pool } = poolFor(bucket());
    const before = pool.summary();
    for (const garbage of [undefined, null, 7, 'pool', [], { accounts: 'x' }]) pool.restore(garbage);
    expect(pool.summary()).toEqual(before);

    pool.restore({
      accounts: { tiny: { calls: 2, hits: 1, proposals: 'many', size: 99 }, gone: { calls: 5 } },
      recentErrors: { tiny: [1, 2] },
      budgetSwitch: { reason: 'tired' },
    });
    expect(pool.stats('tiny')).toMatchObject({ calls: 2, hits: 1, proposals: 0, size: 1e8 });
    expect(pool.recentErrors('tiny')).toEqual([]);
    expect(pool.budgetSwitch()).toBeUndefined();
    // No total was saved: the models' own calls count against the budget.
    expect(pool.budgetSpent()).toBeUndefined();
    pool.restore({ calls: 4 });
    expect(pool.budgetSpent()).toBe('calls');
  });

  it('tells a listener when a call is booked, as it goes out and when it is done; a cache hit is free', async () => {
    const { pool } = poolFor(bucket());
    const seen: string[] = [];
    pool.onSpend((phase) => void seen.push(`${phase} ${pool.snapshot().calls}`));
    await pool.ask('big', messages('one'), 'propose');
    expect(seen).toEqual(['out 1', 'in 1']);
    await pool.ask('big', messages('one'), 'propose');
    expect(seen).toEqual(['out 1', 'in 1']);
  });

  it('sends a call only once the listener has kept its booking, and sends it even when keeping failed', async () => {
    const { pool } = poolFor(bucket());
    const before = server.chats.length;
    let keep: () => void = () => undefined;
    pool.onSpend((phase) => (phase === 'out' ? new Promise<void>((resolve) => (keep = resolve)) : undefined));
    const asked = pool.ask('big', messages('kept first'), 'propose');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(server.chats.length).toBe(before);
    keep();
    await asked;
    expect(server.chats.length).toBe(before + 1);

    const { pool: failing } = poolFor(bucket());
    failing.onSpend(() => Promise.reject(new Error('disk full')));
    await expect(failing.ask('big', messages('kept or not'), 'propose')).resolves.toEqual(expect.any(String));
  });

  it('carries on from a ledger whose counts are higher than the checkpoint it restored', () => {
    const { pool } = poolFor(bucket());
    pool.restore({ calls: 1, accounts: { tiny: { calls: 1 } } });
    pool.carryBookings({ calls: 3, perModel: { tiny: 1, big: 2, gone: 7 } });
    expect(pool.bookings()).toEqual({ calls: 3, perModel: { tiny: 1, big: 2 } });
    // A ledger behind the checkpoint lowers nothing.
    pool.carryBookings({ calls: 0, perModel: { tiny: 0 } });
    expect(pool.bookings()).toEqual({ calls: 3, perModel: { tiny: 1, big: 2 } });
    expect(pool.summary().totals.calls).toBe(3);
  });

  it("the wiring's state carries the shared fallback's mutator statistics with the pool's account", async () => {
    const fallback = new BuiltinProposer();
    const first = llmSearchWiring(poolFor(bucket()).pool, { fallback });
    const ctx = contextFor(['builtin', 'tiny', 'big']);
    const proposal = await first.proposers.builtin.propose(ctx);
    first.proposers.builtin.feedback?.(proposal, true);
    const saved = JSON.parse(JSON.stringify(first.state.snapshot())) as unknown;
    expect(saved).toMatchObject({ version: 1, pool: { version: 1, accounts: { builtin: { proposals: 1, hits: 1 } } } });

    const restoredFallback = new BuiltinProposer();
    const second = llmSearchWiring(poolFor(bucket()).pool, { fallback: restoredFallback });
    second.state.restore(saved);
    expect(restoredFallback.snapshot()).toEqual(fallback.snapshot());
    expect(second.state.snapshot()).toEqual(saved);
    second.state.restore('nonsense');
    expect(second.state.snapshot()).toEqual(saved);
  });
});

describe('wiring a bucket into the search', () => {
  it('keeps the population and the rounds small when an LLM acts on the initial population', () => {
    // No firstModel: the largest model, an LLM, labels the population; each expansion is a call.
    const { searchOptions } = llmSearchWiring(poolFor(bucket()).pool, { trialsPerIter: 16 });
    expect(searchOptions.defaultModel).toBe('big');
    expect(searchOptions).toMatchObject({ initialPopulation: 16, expansionsPerRound: 32 });
    expect(llmSearchWiring(poolFor(bucket()).pool, { trialsPerIter: 4 }).searchOptions).toMatchObject({
      initialPopulation: 8,
      expansionsPerRound: 8,
    });
  });
});
