// COLT end to end over the in-memory fake space: the real pool, client, prompts, parser and
// proposers against a real OpenAI-compatible server on 127.0.0.1, inside one Search.
import type { LlmEvent } from '../../src/llm/events';
import type { ModelPool } from '../../src/llm/pool';
import { llmSearchWiring } from '../../src/llm/setup';
import type { SearchOptions } from '../../src/search/options';
import { Search, type SearchEvent, type SearchResult } from '../../src/search';
import type { ScheduleSpace } from '../../src/search/types';
import { fakeClock, FakeSpace } from '../search/fake-space';
import { ScoreSpace } from '../search/score-space';
import { answer, FakeOpenAI, type Script } from './fake-openai';
import { configFor, poolFor, type ModelEntry } from './helpers';

type AnyEvent = SearchEvent | LlmEvent;

const THREE: ModelEntry[] = [
  { name: 'small', params: 1.5e9, price: { inputPerMTok: 0.02, outputPerMTok: 0.05 } },
  { name: 'mid', params: 8e9, price: { inputPerMTok: 0.25, outputPerMTok: 2 } },
  { name: 'large', params: 1e12, price: { inputPerMTok: 1.25, outputPerMTok: 10 } },
];

interface Run {
  result: SearchResult;
  events: AnyEvent[];
  pool: ModelPool;
  server: FakeOpenAI;
}

const servers: FakeOpenAI[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function runColt(options: {
  script: Script;
  entries?: ModelEntry[];
  config?: Record<string, unknown>;
  search?: Partial<SearchOptions>;
  space?: ScheduleSpace;
  env?: NodeJS.ProcessEnv;
  apiKey?: string;
}): Promise<Run> {
  const server = await FakeOpenAI.start({ script: options.script, apiKey: options.apiKey });
  servers.push(server);
  const events: AnyEvent[] = [];
  const config = configFor(server.baseURL, (options.entries ?? THREE).map((e) => ({ maxRetries: 2, ...e })), options.config);
  // Search and LLM events go to one stream, as in the CLI.
  const { pool } = poolFor(config, options.env, { cacheSize: 0, onEvent: (e) => events.push(e) });
  await pool.probe();
  const wiring = llmSearchWiring(pool);
  const search = new Search(
    { maxTrials: 48, trialsPerIter: 8, seed: 5, ...wiring.searchOptions, ...options.search },
    { space: options.space ?? new FakeSpace(), proposers: wiring.proposers, clock: fakeClock().now },
  );
  const result = await search.run((e) => events.push(e));
  return { result, events, pool, server };
}

const ofType = <T extends AnyEvent['type']>(events: readonly AnyEvent[], type: T) =>
  events.filter((e): e is Extract<AnyEvent, { type: T }> => e.type === type);

/** Each model hands over in its own rotation, so siblings carry different labels. */
function rotatingScript(record?: Array<{ model: string; next: string }>): Script {
  const rotation: Record<string, string[]> = {
    small: ['small', 'mid', 'large', 'small'],
    mid: ['small', 'large', 'mid'],
    large: ['small', 'mid'],
  };
  return ({ model, n }) => {
    const next = rotation[model][n % rotation[model].length];
    record?.push({ model, next });
    const mutator = n % 3 === 0 ? 'mutate_unroll' : 'MutateTileSize';
    return { content: answer([{ mutator }], next) };
  };
}

describe('COLT over a fake space with three scripted models', () => {
  it('lets every model expand, labels each child with the model its parent chose, and accounts what the server billed', async () => {
    const answered: Array<{ model: string; next: string }> = [];
    const base = rotatingScript(answered);
    // A 429 and a 500 along the way: retried, and billed only once answered.
    const script: Script = (req) =>
      (req.model === 'mid' && req.n === 3) || (req.model === 'small' && req.n === 5) ? { status: req.model === 'mid' ? 429 : 500 } : base(req);
    const { result, events, pool, server } = await runColt({ script, config: { courseAlteration: { enabled: false } } });

    const expands = ofType(events, 'expand');
    const ok = expands.filter((e) => e.ok);
    for (const model of ['small', 'mid', 'large']) expect(ok.filter((e) => e.model === model).length).toBeGreaterThan(0);

    // One answered chat per expansion, in order; the child carries the next_model of that answer.
    expect(answered).toHaveLength(expands.length);
    expands.forEach((e, i) => {
      expect(e.model).toBe(answered[i].model);
      if (e.ok) expect(e.nextModel).toBe(answered[i].next);
    });
    // The acting model is always the parent's label; the initial population belongs to the largest.
    const label = new Map(ok.map((e) => [e.nodeId, e.nextModel]));
    for (const e of expands) expect(e.model).toBe(label.get(e.parentId) ?? 'large');

    for (const entry of THREE) {
      const seen = server.seen(entry.name);
      const stats = pool.stats(entry.name);
      const price = entry.price as { inputPerMTok: number; outputPerMTok: number };
      expect(stats.requests).toBe(seen.requests);
      expect(stats.calls).toBe(seen.answered);
      expect(stats.promptTokens).toBe(seen.promptTokens);
      expect(stats.completionTokens).toBe(seen.completionTokens);
      expect(stats.costUsd).toBeCloseTo((seen.promptTokens * price.inputPerMTok + seen.completionTokens * price.outputPerMTok) / 1e6, 12);
      expect(stats.calls).toBe(result.perModel[entry.name].expansions);
    }
    expect(server.seen('mid').statuses).toContain(429);
    expect(server.seen('small').statuses).toContain(500);
    const summary = pool.summary();
    expect(summary.totals.calls).toBe(answered.length);
    expect(summary.smallModelShare).toBeCloseTo(1 - pool.stats('large').calls / answered.length, 12);
    expect(summary.budgetSwitch).toBeNull();
  });

  it('gives smaller models a larger share of the calls with λ > 0 than with λ = 0, on the same seeds', async () => {
    const share = async (lambda: number): Promise<number> => {
      let small = 0;
      let total = 0;
      for (const seed of [1, 2, 3]) {
        const { pool } = await runColt({
          script: rotatingScript(),
          config: { lambda, courseAlteration: { enabled: false } },
          search: { seed, maxTrials: 64, explorationC: 0.3 },
        });
        const s = pool.summary();
        small += s.perModel.small.calls + s.perModel.mid.calls;
        total += s.totals.calls;
      }
      return small / total;
    };
    const without = await share(0);
    const withBias = await share(0.5);
    expect(withBias).toBeGreaterThan(without);
  });

  it('hands every K-th consecutive small-model regression to the largest model, whose child replaces only a worse one', async () => {
    const correction = ['MutateBetter', 'MutateMuchWorse'];
    let corrections = 0;
    const script: Script = ({ model, messages }) => {
      if (messages[0].content.includes('You are the largest model.')) {
        return { content: answer([correction[corrections++ % 2]], 'small') };
      }
      return { content: answer([model === 'large' ? 'MutateBetter' : 'MutateWorse'], 'small') };
    };
    const { result, events, pool } = await runColt({
      script,
      entries: [
        { name: 'small', params: 1e9 },
        { name: 'large', params: 1e12 },
      ],
      config: { courseAlteration: { streak: 2 } },
      space: new ScoreSpace({ MutateWorse: -0.1, MutateBetter: 0.05, MutateMuchWorse: -0.3 }),
      search: { maxTrials: 16, initialPopulation: 2, expansionsPerRound: 12 },
    });
    const esc = ofType(events, 'escalate');
    expect(esc.length).toBeGreaterThanOrEqual(4);
    expect(esc.map((e) => e.streak)).toEqual(esc.map((_, i) => 2 * (i + 1)));
    expect(esc.map((e) => e.replaced)).toEqual(esc.map((_, i) => i % 2 === 0));
    for (const e of esc) {
      expect(e).toMatchObject({ smallModel: 'small', largeModel: 'large' });
      expect(e.replaced).toBe((e.largeScore as number) > e.smallScore);
      if (e.replaced) expect(e.nextModel).toBe('small');
    }
    expect(corrections).toBe(esc.length);
    expect(pool.stats('large').corrections).toBe(esc.length);
    expect(result.escalations).toEqual({ asked: esc.length, replaced: Math.ceil(esc.length / 2) });
    const correctionCalls = ofType(events, 'llm_call').filter((e) => e.purpose === 'correct');
    expect(correctionCalls).toHaveLength(esc.length);
  });

  it('switches to the built-in proposer when the LLM budget is spent, says when, and keeps searching', async () => {
    const { result, events, server, pool } = await runColt({
      script: rotatingScript(),
      config: { llmBudget: 10, courseAlteration: { enabled: false } },
    });
    expect(server.chats).toHaveLength(10);
    const budget = ofType(events, 'llm_budget');
    expect(budget).toHaveLength(1);
    const at = events.indexOf(budget[0]);
    const trialsBefore = ofType(events.slice(0, at), 'measure').at(-1)?.trialsUsed ?? 0;
    expect(budget[0]).toEqual({ type: 'llm_budget', reason: 'calls', trialsUsed: trialsBefore, calls: 10, costUsd: pool.summary().totals.costUsd });
    expect(ofType(events.slice(at), 'expand').filter((e) => e.ok).length).toBeGreaterThan(10);
    expect(result.trialsUsed).toBe(48);
    expect(pool.summary().budgetSwitch).toEqual({ reason: 'calls', trialsUsed: trialsBefore, calls: 10, costUsd: budget[0].costUsd });
  });

  it('never lets the key out: not in events, stats, summaries, results or errors', async () => {
    const KEY = 'sk-colt-test-4f9a1c77e2b84d0d';
    const script: Script = ({ model, n }) =>
      model === 'mid' && n % 4 === 0
        ? { status: 400, message: `request with key ${KEY} is malformed` }
        : { content: answer(['MutateTileSize'], n % 2 ? 'mid' : 'small') };
    const entries = THREE.map((e) => ({ ...e, apiKeyEnv: 'COLT_E2E_KEY' }));
    const { result, events, pool } = await runColt({ script, entries, env: { COLT_E2E_KEY: KEY }, apiKey: KEY });
    const failures = ofType(events, 'llm_call').filter((e) => !e.ok);
    expect(failures.length).toBeGreaterThan(0);
    expect(failures[0].error).toContain('[redacted]');

    const wrong = await FakeOpenAI.start({ script, apiKey: 'sk-something-else' });
    servers.push(wrong);
    const { pool: rejected } = poolFor(configFor(wrong.baseURL, entries), { COLT_E2E_KEY: KEY });
    const probeError = await rejected.probe().catch((e: unknown) => e as Error);

    const { inspect } = jest.requireActual<typeof import('node:util')>('node:util');
    const everything = [
      JSON.stringify(events),
      JSON.stringify(result),
      JSON.stringify(pool.summary()),
      JSON.stringify(pool),
      inspect(pool, { depth: 20 }),
      inspect(rejected, { depth: 20 }),
      String(probeError),
      JSON.stringify(probeError),
    ].join('\n');
    expect(everything).not.toContain(KEY);
  });
});
