import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Code, ColtError } from '../../../src/errors';
import type { LlmCallError } from '../../../src/llm/call-error';
import { ModelPool } from '../../../src/llm/pool';
import { openModelPool } from '../../../src/llm/setup';
import { answer, billedTokens, FakeOpenAI, unusedBaseURL, type Reply, type Script } from '../fake-openai';
import { configFor, ofType, poolFor } from '../helpers';

const messages = (text: string) => [
  { role: 'system' as const, content: 'answer JSON' },
  { role: 'user' as const, content: text },
];

let server: FakeOpenAI | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(script: Script, apiKey?: string): Promise<FakeOpenAI> {
  server = await FakeOpenAI.start({ script, apiKey });
  return server;
}

describe('model pool calls', () => {
  it('accounts tokens and money from the server’s usage, and estimates them when it sends none', async () => {
    const s = await serve(({ model }) => ({ content: answer(['MutateTileSize'], 'a'), noUsage: model === 'b' }));
    const config = configFor(s.baseURL, [
      { name: 'a', price: { inputPerMTok: 2, outputPerMTok: 8 } },
      { name: 'b', price: { inputPerMTok: 1, outputPerMTok: 1 } },
    ]);
    const { pool, events } = poolFor(config);
    const text = await pool.ask('a', messages('one'), 'propose');
    expect(JSON.parse(text)).toEqual({ transformations: ['MutateTileSize'], next_model: 'a' });
    await pool.ask('a', messages('two'), 'propose');
    await pool.ask('b', messages('three'), 'propose');

    const a = pool.stats('a');
    expect(a).toMatchObject({ calls: 2, requests: 2, promptTokens: s.seen('a').promptTokens, completionTokens: s.seen('a').completionTokens });
    expect(a.costUsd).toBeCloseTo((a.promptTokens * 2 + a.completionTokens * 8) / 1e6, 12);
    expect(a.estimatedCalls).toBe(0);
    const b = pool.stats('b');
    expect(b.estimatedCalls).toBe(1);
    expect(b.promptTokens).toBe(Math.ceil(('answer JSON\nthree').length / 4));
    expect(b.completionTokens).toBe(Math.ceil(text.length / 4));
    const calls = ofType(events, 'llm_call');
    expect(calls.map((e) => [e.model, e.ok, e.cached, e.estimated])).toEqual([
      ['a', true, false, false],
      ['a', true, false, false],
      ['b', true, false, true],
    ]);
    expect(calls[0].promptTokens).toBe(billedTokens(messages('one'), text).prompt);
    expect(calls.every((e) => e.latencyMs >= 0 && e.attempts === 1)).toBe(true);
  });

  it('answers a repeated question from the cache without paying twice', async () => {
    const s = await serve(() => ({ content: answer(['MutateUnroll'], 'a') }));
    const { pool, events } = poolFor(configFor(s.baseURL, [{ name: 'a', price: { inputPerMTok: 1, outputPerMTok: 1 } }]));
    const first = await pool.ask('a', messages('same'), 'propose');
    const cost = pool.stats('a').costUsd;
    expect(await pool.ask('a', messages('same'), 'propose')).toBe(first);
    expect(s.seen('a').requests).toBe(1);
    expect(pool.stats('a')).toMatchObject({ calls: 1, cacheHits: 1, costUsd: cost });
    const cached = ofType(events, 'llm_call')[1];
    expect(cached).toMatchObject({ cached: true, costUsd: 0, promptTokens: 0, attempts: 0 });
    // Another prompt, or the same prompt to another model, is a new question.
    await pool.ask('a', messages('other'), 'propose');
    expect(s.seen('a').requests).toBe(2);
  });

  it.each<[string, Reply[]]>([
    ['429', [{ status: 429, headers: { 'retry-after': '2' } }]],
    ['500', [{ status: 500 }]],
    ['503 twice', [{ status: 503 }, { status: 503 }]],
  ])('retries %s with backoff and then succeeds', async (_, failures) => {
    const s = await serve(({ n }) => failures[n - 1] ?? { content: answer(['MutateTileSize'], 'a') });
    const { pool, sleeps, events } = poolFor(configFor(s.baseURL, [{ name: 'a', maxRetries: 2 }]));
    await pool.ask('a', messages('x'), 'propose');
    expect(s.seen('a').requests).toBe(failures.length + 1);
    expect(pool.stats('a')).toMatchObject({ calls: 1, requests: failures.length + 1, failedCalls: 0, errors: 0 });
    expect(ofType(events, 'llm_call')[0]).toMatchObject({ ok: true, attempts: failures.length + 1 });
    expect(sleeps).toHaveLength(failures.length);
    // Exponential: 500 ms, then 1000 ms (with the jitter at its midpoint); Retry-After wins when longer.
    if (failures.length === 2) expect(sleeps).toEqual([375, 750]);
    if (failures[0].headers) expect(sleeps[0]).toBe(2000);
  });

  it('gives up after maxRetries, and never retries 400, 401, 403 or 404', async () => {
    const s = await serve(({ model }) => ({ status: Number(model.slice(1)) }));
    const names = ['s500', 's400', 's401', 's403', 's404'];
    const { pool, events } = poolFor(configFor(s.baseURL, names.map((name) => ({ name, maxRetries: 3 }))));
    const errs: LlmCallError[] = [];
    for (const name of names) {
      const err = (await pool.ask(name, messages('x'), 'propose').catch((e: unknown) => e)) as LlmCallError;
      expect(err).toBeInstanceOf(ColtError);
      errs.push(err);
    }
    expect(errs.map((e) => [e.details.llm?.kind, e.code, e.details.llm?.status])).toEqual([
      ['server', Code.Internal, 500],
      ['bad_request', Code.InvalidArgument, 400],
      ['auth', Code.Unauthenticated, 401],
      ['auth', Code.Unauthenticated, 403],
      ['not_found', Code.NotFound, 404],
    ]);
    expect(names.map((n) => s.seen(n).requests)).toEqual([4, 1, 1, 1, 1]);
    const failed = ofType(events, 'llm_call');
    expect(failed.map((e) => e.errorKind)).toEqual(['server', 'bad_request', 'auth', 'auth', 'not_found']);
    expect(failed.every((e) => !e.ok && e.error!.split('\n').length === 1)).toBe(true);
    expect(pool.stats('s500')).toMatchObject({ calls: 1, requests: 4, failedCalls: 1, errors: 1 });
    expect(pool.recentErrors('s500')).toEqual(['call failed: server']);
  });

  it('times a slow answer out without retrying it', async () => {
    const s = await serve(() => ({ content: answer(['MutateTileSize'], 'a'), delayMs: 800 }));
    const { pool, events } = poolFor(configFor(s.baseURL, [{ name: 'a', timeoutMs: 150, maxRetries: 2 }]));
    const t0 = Date.now();
    const err = (await pool.ask('a', messages('x'), 'propose').catch((e: unknown) => e)) as LlmCallError;
    expect(Date.now() - t0).toBeLessThan(700);
    expect(err).toBeInstanceOf(ColtError);
    expect(err.details.llm).toEqual({ model: 'a', kind: 'timeout', attempts: 1 });
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(err.message).toBe('a: timeout: no answer within 150 ms');
    expect(s.seen('a').requests).toBe(1);
    expect(ofType(events, 'llm_call')[0]).toMatchObject({ ok: false, errorKind: 'timeout', attempts: 1 });
  });

  it('treats a body that is not a chat completion as a failed call', async () => {
    const s = await serve(({ n }) => (n === 1 ? { raw: '{"object":"list"}' } : { raw: 'not json at all' }));
    const { pool } = poolFor(configFor(s.baseURL, [{ name: 'a' }]));
    for (let i = 0; i < 2; i++) {
      const err = (await pool.ask('a', messages(`x${i}`), 'propose').catch((e: unknown) => e)) as LlmCallError;
      expect(err).toBeInstanceOf(ColtError);
      expect(err.details.llm?.kind).toBe('bad_response');
    }
  });

  it('sends the configured model id, token limit and temperature', async () => {
    const s = await serve(() => ({ content: '{}' }));
    const { pool } = poolFor(
      configFor(s.baseURL, [
        { name: 'local', model: 'qwen2.5-coder:1.5b', maxOutputTokens: 300, temperature: 0.2 },
        { name: 'openai', maxTokensParam: 'max_completion_tokens' },
      ]),
    );
    await pool.ask('local', messages('x'), 'propose');
    await pool.ask('openai', messages('x'), 'propose');
    expect(s.chats[0].body).toMatchObject({ model: 'qwen2.5-coder:1.5b', max_tokens: 300, temperature: 0.2 });
    expect(s.chats[1].body).toMatchObject({ model: 'openai', max_completion_tokens: 512 });
    expect(s.chats[1].body).not.toHaveProperty('temperature');
    expect(s.chats[1].body).not.toHaveProperty('max_tokens');
  });
});

describe('start-up probe and keys', () => {
  const KEY = 'sk-test-Zq9vLr3Ke7Mn2Xw8';

  it('passes with the right key and sends it as a bearer token', async () => {
    const s = await serve(() => ({ content: '{}' }), KEY);
    const { pool } = poolFor(configFor(s.baseURL, [{ name: 'a', apiKeyEnv: 'COLT_TEST_KEY' }]), { COLT_TEST_KEY: KEY });
    await expect(pool.probe()).resolves.toBeUndefined();
    expect(s.modelListings).toBe(1);
    await pool.ask('a', messages('x'), 'propose');
  });

  it('turns a bad key into one line naming the variable, never the key', async () => {
    const s = await serve(() => ({ content: '{}' }), 'sk-the-right-one');
    const { pool, events } = poolFor(configFor(s.baseURL, [{ name: 'a', apiKeyEnv: 'COLT_TEST_KEY' }]), { COLT_TEST_KEY: KEY });
    const err = (await pool.probe().catch((e: unknown) => e)) as ColtError;
    expect(err).toBeInstanceOf(ColtError);
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.message).toBe(`model "a": ${s.baseURL} rejected the API key in $COLT_TEST_KEY (HTTP 401)`);
    // The server quoted the key in its 401; a call's error must not repeat it either.
    const callErr = (await pool.ask('a', messages('x'), 'propose').catch((e: unknown) => e)) as LlmCallError;
    const everything = JSON.stringify([err.message, callErr.message, events, pool.summary(), pool]);
    expect(everything).not.toContain(KEY);
    expect(everything).not.toContain(KEY.slice(3, 12));
  });

  it('says a local endpoint wants a key when none is configured', async () => {
    const s = await serve(() => ({ content: '{}' }), KEY);
    const { pool } = poolFor(configFor(s.baseURL, [{ name: 'a' }]));
    await expect(pool.probe()).rejects.toThrow(/wants an API key \(HTTP 401\); name its environment variable in apiKeyEnv/);
  });

  it('turns an unreachable base URL and a wrong path into one line each, for every failing model', async () => {
    const dead = await unusedBaseURL();
    server = await FakeOpenAI.start({ script: () => ({ content: '{}' }), modelsStatus: 404 });
    const config = configFor(dead, [{ name: 'down' }, { name: 'wrong-path', baseURL: server.baseURL.replace('/v1', '') }]);
    const { pool } = poolFor(config);
    const err = (await pool.probe().catch((e: unknown) => e)) as ColtError;
    expect(err).toBeInstanceOf(ColtError);
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.message.split('\n')).toHaveLength(1);
    expect(err.details.issues?.[0]).toMatch(new RegExp(`^model "down": cannot reach ${dead}: .*ECONNREFUSED`));
    expect(err.details.issues?.[1]).toMatch(/^model "wrong-path": http:\/\/127\.0\.0\.1:\d+\/models answered HTTP 404; is the base URL right\? It usually ends in \/v1$/);
  });

  it('names a missing environment variable, and prints no key', () => {
    const config = configFor('http://127.0.0.1:1/v1', [
      { name: 'a', apiKeyEnv: 'COLT_MISSING_KEY' },
      { name: 'b', apiKeyEnv: 'COLT_MISSING_KEY' },
      { name: 'c', apiKeyEnv: 'COLT_TEST_KEY' },
    ]);
    expect(() => ModelPool.fromConfig(config, { COLT_TEST_KEY: KEY })).toThrow(
      expect.objectContaining({ code: Code.InvalidArgument, message: 'environment variable COLT_MISSING_KEY is not set (apiKeyEnv of a, b)' }),
    );
    const pool = ModelPool.fromConfig(config, { COLT_TEST_KEY: KEY, COLT_MISSING_KEY: 'x-other-secret' });
    const { inspect } = jest.requireActual<typeof import('node:util')>('node:util');
    expect(inspect(pool, { depth: 10 })).not.toContain(KEY);
    expect(JSON.stringify(pool.summary())).not.toContain(KEY);
  });

  it('opens a pool from a models file: config, keys and probe, in that order', async () => {
    const s = await serve(() => ({ content: '{}' }), KEY);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-open-'));
    try {
      const file = path.join(dir, 'models.json');
      const write = (models: unknown[]) => fs.writeFileSync(file, JSON.stringify({ models }));
      write([{ name: 'a', baseURL: s.baseURL, params: 1e9, apiKeyEnv: 'COLT_TEST_KEY' }]);
      const pool = await openModelPool(file, { COLT_TEST_KEY: KEY });
      expect(pool.names).toEqual(['a']);
      expect(s.modelListings).toBe(1);
      await expect(openModelPool(file, {})).rejects.toThrow(
        expect.objectContaining({ code: Code.InvalidArgument, message: 'environment variable COLT_TEST_KEY is not set (apiKeyEnv of a)' }),
      );
      const wrongKey = openModelPool(file, { COLT_TEST_KEY: 'sk-wrong-key' });
      await expect(wrongKey).rejects.toBeInstanceOf(ColtError);
      await expect(wrongKey).rejects.toMatchObject({ code: Code.InvalidArgument, message: expect.stringContaining('rejected the API key') });
      write([{ name: 'a', params: 1e9 }]);
      await expect(openModelPool(file, {})).rejects.toThrow(/models\.0\.baseURL: is required/);
      // Only the probe with the right key got as far as the model list; the others stopped earlier.
      expect(s.modelListings).toBe(1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
