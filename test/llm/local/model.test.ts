/**
 * @jest-environment ./test/llm/local-environment.js
 */
// The bundled SmolLM2-135M, run in-process: its answers, held to the turn's grammar, parse into
// usable transformations; its tokens are counted and cost nothing; a missing or broken file is
// one line at the probe. A few calls of about a second each.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Code, ColtError } from '../../../src/errors';
import { ApiKeys, parseModelsConfig } from '../../../src/llm/config';
import { answerConstraints } from '../../../src/llm/prompting/constraints';
import type { LlmEvent } from '../../../src/llm/events';
import { BUNDLED_MODEL, DEFAULT_BUCKET, defaultBucketConfig } from '../../../src/llm/default-bucket';
import { callThreads, LocalChatModel } from '../../../src/llm/local/model';
import { parseAnswer } from '../../../src/llm/prompting/parse';
import { ModelPool } from '../../../src/llm/pool';
import { llmSearchWiring } from '../../../src/llm/setup';
import { BuiltinProposer } from '../../../src/search/builtin-proposer';
import { ofType } from '../helpers';
import { GGUF, gmmContext, loadNodeLlamaCpp, requireBundledModel } from '../local-fixtures';

const MODELS = ['builtin', BUNDLED_MODEL.name];

let pool: ModelPool;
const events: LlmEvent[] = [];

beforeAll(async () => {
  requireBundledModel();
  pool = new ModelPool(defaultBucketConfig(GGUF), ApiKeys.none(), {
    onEvent: (e) => events.push(e),
    local: { load: loadNodeLlamaCpp },
  });
  await pool.probe();
});

afterAll(() => pool?.close());

describe('the bundled local model', () => {
  it('answers within the grammar: the answer parses whole, with tokens counted and no money spent', async () => {
    const ctx = gmmContext(MODELS);
    const constraints = answerConstraints(ctx, MODELS);
    const messages = [
      { role: 'system' as const, content: 'Answer with one JSON object: {"transformations": [...], "next_model": "..."}' },
      { role: 'user' as const, content: 'Propose up to three transformations of the schedule, and the model to act next.' },
    ];
    const text = await pool.ask(BUNDLED_MODEL.name, messages, 'propose', constraints);

    const parsed = parseAnswer({ text, mutators: ctx.mutators, decisions: ctx.node.decisions, models: MODELS });
    expect(parsed.issues).toEqual([]);
    expect(parsed.transformations.length).toBeGreaterThanOrEqual(1);
    expect(parsed.transformations.length).toBeLessThanOrEqual(3);
    expect(MODELS).toContain(parsed.nextModel);
    // Compact: no whitespace for the model to spend tokens on.
    expect(text).not.toMatch(/\s/);

    const [call] = ofType(events, 'llm_call');
    expect(call).toMatchObject({ model: BUNDLED_MODEL.name, ok: true, cached: false, estimated: false, costUsd: 0, attempts: 1 });
    expect(call.promptTokens).toBeGreaterThan(20);
    expect(call.completionTokens).toBeGreaterThan(5);
    expect(call.completionTokens).toBeLessThanOrEqual(DEFAULT_BUCKET.maxOutputTokens);
  });

  it('takes a real turn in the search: its own transformations, a prompt within its context', async () => {
    const { proposers } = llmSearchWiring(pool, { fallback: new BuiltinProposer() });
    const before = events.length;
    const proposal = await proposers[BUNDLED_MODEL.name].propose(gmmContext(MODELS));
    expect(proposal.transformations.length).toBeGreaterThanOrEqual(1);
    expect(MODELS).toContain(proposal.nextModel);

    const mine = events.slice(before);
    // No parse problem and no fallback: the model's own answer was used.
    expect(ofType(mine, 'llm_parse')).toEqual([]);
    const [call] = ofType(mine, 'llm_call');
    expect(call.promptTokens + call.completionTokens).toBeLessThanOrEqual(DEFAULT_BUCKET.contextTokens);
    const summary = pool.summary();
    expect(summary.perModel[BUNDLED_MODEL.name]).toMatchObject({ calls: 2, fallbacks: 0, costUsd: 0 });
    expect(summary.totals.promptTokens).toBeGreaterThan(call.promptTokens);
  });

  it('runs each call on the cores idle just before it, and on the entry\'s threads when it names them', async () => {
    const messages = [{ role: 'user' as const, content: 'Answer with a JSON object.' }];
    const entry = { name: 'smol', gguf: GGUF, params: 1, contextTokens: 512, maxOutputTokens: 16 };
    const idle = [2, 0];
    let asked = 0;
    const adaptive = new LocalChatModel(parseModelsConfig({ models: [entry] }).models[0], {
      load: loadNodeLlamaCpp,
      idle: async () => idle[asked++],
    });
    const fixed = new LocalChatModel(parseModelsConfig({ models: [{ ...entry, threads: 1 }] }).models[0], {
      load: loadNodeLlamaCpp,
      idle: async () => {
        throw new Error('a model whose entry names its threads measures nothing');
      },
    });
    try {
      for (const cores of idle) {
        const { threads } = await adaptive.complete(messages);
        expect(threads).toBe(Math.min(adaptive.maxThreads, callThreads(cores)));
        // What llama.cpp itself ran the call on.
        expect(adaptive.threadsInUse()).toBe(threads);
      }
      expect(asked).toBe(2);
      // With 2 or more cores, the two calls differ: all idle cores, then one.
      if (os.availableParallelism() >= 2) expect(callThreads(2)).toBe(2);
      expect(callThreads(0)).toBe(1);

      expect((await fixed.complete(messages)).threads).toBe(1);
      expect(fixed.threadsInUse()).toBe(1);
      // Back on the adaptive model after the fixed one's call lowered the shared cap.
      idle.push(2);
      expect((await adaptive.complete(messages)).threads).toBe(Math.min(adaptive.maxThreads, callThreads(2)));
      expect(adaptive.threadsInUse()).toBe(Math.min(adaptive.maxThreads, callThreads(2)));
    } finally {
      await adaptive.close();
      await fixed.close();
    }
  });

  it('turns a missing or broken file into one line at the probe', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-local-model-'));
    try {
      const notGguf = path.join(dir, 'model.gguf');
      fs.writeFileSync(notGguf, '<html>404 Not Found</html>');
      const badVersion = path.join(dir, 'garbage.gguf');
      fs.writeFileSync(badVersion, `GGUF${'\u0003'.repeat(4092)}`);
      // The first megabyte of the real model: a download cut short.
      const truncated = path.join(dir, 'truncated.gguf');
      fs.copyFileSync(GGUF, truncated);
      fs.truncateSync(truncated, 1 << 20);
      for (const [file, reason] of [
        [path.join(dir, 'absent.gguf'), /: no such file$/],
        [notGguf, /: not a GGUF file$/],
        [badVersion, /: GGUF version 50529027, which llama\.cpp does not read$/],
        [truncated, /: llama\.cpp cannot load it: /],
      ] as const) {
        const config = parseModelsConfig({ models: [{ name: 'smol', gguf: file, params: 1 }] });
        const bad = new ModelPool(config, ApiKeys.none(), { local: { load: loadNodeLlamaCpp } });
        const err = await bad.probe().catch((e: unknown) => e);
        await bad.close();
        expect(err).toBeInstanceOf(ColtError);
        expect((err as ColtError).code).toBe(Code.InvalidArgument);
        expect((err as Error).message).toMatch(new RegExp(`^model "smol": ${file}: `));
        expect((err as Error).message).toMatch(reason);
        expect((err as Error).message).not.toContain('\n');
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
