// models.json entries for local GGUF models and the built-in proposer, the default bucket, and
// how a pool wires them into a search: no model is loaded here.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Code, ColtError } from '../../src/errors';
import { ApiKeys, largestModel, loadModelsConfig, modelKind, modelSizes, parseModelsConfig } from '../../src/llm/config';
import { BUNDLED_MODEL, bundledModelPath, DEFAULT_BUCKET, defaultBucketConfig, openDefaultBucket } from '../../src/llm/default-bucket';
import { callThreads, idleCores } from '../../src/llm/local/model';
import { ModelPool } from '../../src/llm/pool';
import { LlmProposer } from '../../src/llm/proposer';
import { llmSearchWiring } from '../../src/llm/setup';

function issuesOf(json: unknown): string[] {
  try {
    parseModelsConfig(json);
  } catch (err) {
    expect(err).toBeInstanceOf(ColtError);
    expect((err as ColtError).code).toBe(Code.InvalidArgument);
    return [...((err as ColtError).details.issues ?? [])];
  }
  throw new Error('expected a ColtError');
}

let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-local-config-'))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('models.json with local and built-in members', () => {
  it('takes a gguf file instead of an endpoint, relative to the models file', () => {
    const file = path.join(dir, 'models.json');
    fs.writeFileSync(
      file,
      JSON.stringify({ models: [{ name: 'builtin', builtin: true }, { name: 'smol', gguf: 'weights/smol.gguf', params: 1.35e8, threads: 1 }] }),
    );
    const config = loadModelsConfig(file);
    expect(config.models.map(modelKind)).toEqual(['builtin', 'local']);
    expect(config.models[1].gguf).toBe(path.join(dir, 'weights', 'smol.gguf'));
    expect(config.models[1].threads).toBe(1);
    // The built-in member needs no size: it is the smallest.
    expect(modelSizes(config)).toEqual({ builtin: 1, smol: 1.35e8 });
    expect(largestModel(config)).toBe('smol');
    // Without a folder to resolve against, the path stays as written.
    expect(parseModelsConfig({ models: [{ name: 'smol', gguf: 'smol.gguf', params: 1 }] }).models[0].gguf).toBe('smol.gguf');
  });

  it('sizes the built-in member below every priced model under sizeBy "price"', () => {
    const config = parseModelsConfig({
      models: [{ name: 'builtin', builtin: true }, { name: 'a', baseURL: 'http://x/v1', params: 1e9, price: { inputPerMTok: 0.01, outputPerMTok: 0.02 } }],
      sizeBy: 'price',
    });
    expect(modelSizes(config).builtin).toBeLessThan(modelSizes(config).a);
  });

  it('rejects mixed kinds, a second built-in member, stray threads and an unknown first model', () => {
    expect(issuesOf({ models: [{ name: 'f', baseURL: 'http://x/v1', params: 1, builtin: false }] })).toEqual([
      'models.0.builtin: expected true (or leave it out)',
    ]);
    expect(
      issuesOf({
        models: [
          { name: 'b', builtin: true, baseURL: 'http://x/v1' },
          { name: 'c', builtin: true },
          { name: 'g', gguf: 'g.gguf', params: 1, apiKeyEnv: 'KEY' },
          { name: 'r', baseURL: 'http://x/v1', params: 1, threads: 2 },
        ],
        firstModel: 'nobody',
      }),
    ).toEqual([
      'models.0.baseURL: a built-in member takes no baseURL',
      'models.1.builtin: only one member may be the built-in proposer',
      'models.2.apiKeyEnv: a gguf model runs in-process: it takes no apiKeyEnv',
      'models.3.threads: only a gguf model runs on local threads',
      'firstModel: "nobody" is not among the models',
    ]);
  });

  it('can name no LLM at all: a bucket of the built-in proposer alone', () => {
    const pool = new ModelPool(parseModelsConfig({ models: [{ name: 'builtin', builtin: true }] }), ApiKeys.none());
    expect(pool.llmNames).toEqual([]);
    expect(pool.isBuiltin('builtin')).toBe(true);
    expect(pool.summary().perModel).toEqual({});
  });

  it('gives a local model\'s call the cores idle before it: at most 4 and the cores, at least 1', () => {
    // Idle cores as measured: a core a third busy still counts, one half busy does not.
    expect([0, 0.5, 0.69, 0.7, 1, 1.69, 1.7, 2].map((idle) => callThreads(idle, 2))).toEqual([1, 1, 1, 1, 1, 1, 2, 2]);
    expect([0, 3.2, 3.7, 7.9, 64].map((idle) => callThreads(idle, 8))).toEqual([1, 3, 4, 4, 4]);
    expect(callThreads(1, 1)).toBe(1);
    expect(callThreads(Infinity, 2)).toBe(2);
  });

  it('measures idle cores from the CPU times over a short window', async () => {
    const times = (user: number, idle: number): os.CpuInfo['times'] => ({ user, nice: 0, sys: 0, irq: 0, idle });
    const snapshots = [
      // Core 0 idle all the window, core 1 busy 3 ticks of 4, core 2 ticked nothing (counts as busy).
      [times(100, 500), times(200, 100), times(50, 50)],
      [times(100, 510), times(203, 101), times(50, 50)],
    ];
    let read = 0;
    const cpus = (): os.CpuInfo[] => snapshots[read++].map((t) => ({ model: 'cpu', speed: 0, times: t }));
    expect(await idleCores(1, cpus)).toBeCloseTo(1.25);
    expect(read).toBe(2);
  });
});

describe('the default bucket', () => {
  const config = defaultBucketConfig('/models/smol.gguf');

  it('is the built-in proposer first and the bundled LLM as the largest, with a small call budget', () => {
    expect(config.models.map((m) => [m.name, modelKind(m)])).toEqual([
      ['builtin', 'builtin'],
      [BUNDLED_MODEL.name, 'local'],
    ]);
    expect(config).toMatchObject({ llmBudget: 12, firstModel: 'builtin', lambda: DEFAULT_BUCKET.lambda, courseAlteration: { streak: 2, enabled: true } });
    expect(largestModel(config)).toBe(BUNDLED_MODEL.name);
    expect(defaultBucketConfig('/m.gguf', 3).llmBudget).toBe(3);
  });

  it('wires cheap first: the built-in proposer labels the population, the LLM corrects, phi favours the built-in proposer', () => {
    const pool = new ModelPool(config, ApiKeys.none());
    const { proposers, searchOptions } = llmSearchWiring(pool);
    expect(searchOptions.defaultModel).toBe('builtin');
    // The built-in proposer's expansions are cheap: the search's own population and rounds.
    expect(searchOptions.initialPopulation).toBeUndefined();
    expect(searchOptions.expansionsPerRound).toBeUndefined();
    expect(searchOptions.courseAlteration).toEqual({ streak: 2, model: BUNDLED_MODEL.name });
    expect(searchOptions.modelBias.lambda).toBe(DEFAULT_BUCKET.lambda);
    expect(searchOptions.modelBias.phi('builtin')).toBeCloseTo(1, 9);
    expect(searchOptions.modelBias.phi(BUNDLED_MODEL.name)).toBe(0);
    expect(proposers[BUNDLED_MODEL.name]).toBeInstanceOf(LlmProposer);
    expect(proposers.builtin).not.toBeInstanceOf(LlmProposer);

    // The built-in member's turns count towards its hit rate; it is no LLM in the account.
    proposers.builtin.feedback?.({ transformations: [] }, true);
    proposers.builtin.feedback?.({ transformations: [] }, false);
    expect(pool.stats('builtin')).toMatchObject({ proposals: 2, hits: 1, calls: 0 });
    expect(pool.isBuiltin('builtin')).toBe(true);
    expect(pool.llmNames).toEqual([BUNDLED_MODEL.name]);
    expect(Object.keys(pool.summary().perModel)).toEqual([BUNDLED_MODEL.name]);
    expect(pool.bestHitRateModel()).toBe('builtin');
  });

  it('is looked for in models/, or in $COLT_MODELS_DIR', () => {
    expect(bundledModelPath('/repo', {})).toBe('/repo/models/smollm2-135m-instruct.q4_1.gguf');
    expect(bundledModelPath('/repo', { COLT_MODELS_DIR: '/opt/weights' })).toBe('/opt/weights/smollm2-135m-instruct.q4_1.gguf');
  });

  it('says what to do when the bundled model is missing', async () => {
    const err = await openDefaultBucket(path.join(dir, 'nope.gguf'), {}, { shown: 'models/nope.gguf' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ColtError);
    expect((err as ColtError).code).toBe(Code.InvalidArgument);
    expect((err as Error).message).toBe('the bundled model models/nope.gguf is missing: run `bash scripts/setup`, or pass --no-llm');
  });
});
