// The buckets by name: what each holds (the same document the README shows as a models.json),
// where their files are looked for, and the one line a missing, partial or wrong Qwen file gives.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Code } from '../../src/errors';
import { ApiKeys, largestModel, modelSizes, parseModelsConfig } from '../../src/llm/config';
import {
  BUCKET_NAMES,
  bucketDocument,
  bucketFiles,
  bucketName,
  BUNDLED_MODEL,
  DEFAULT_BUCKET,
  DEFAULT_BUCKET_NAME,
  openBucket,
  QWEN_MEMBER,
} from '../../src/llm/default-bucket';
import { QWEN_CODER_1_5B } from '../../src/llm/fetch';
import { ModelPool } from '../../src/llm/pool';
import { llmSearchWiring } from '../../src/llm/setup';
import { failure } from './helpers';

const FILES = { smollm: '/m/smollm2-135m-instruct.q4_1.gguf', qwen: '/m/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf' };

let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-buckets-'))));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('bucket names', () => {
  it('are offline (the default) and offline-3; any other name is one line', () => {
    expect(BUCKET_NAMES).toEqual(['offline', 'offline-3']);
    expect(DEFAULT_BUCKET_NAME).toBe('offline');
    expect(bucketName('offline-3')).toBe('offline-3');
    expect(() => bucketName('online')).toThrow('no bucket "online": the buckets are offline, offline-3');
  });
});

describe('the buckets as models.json documents', () => {
  it('offline: the built-in proposer first, SmolLM2-135M the largest', () => {
    const config = parseModelsConfig(bucketDocument('offline', FILES), 'offline');
    expect(config.models.map((m) => m.name)).toEqual(['builtin', BUNDLED_MODEL.name]);
    expect(config).toMatchObject({ llmBudget: DEFAULT_BUCKET.llmBudget, lambda: DEFAULT_BUCKET.lambda, firstModel: 'builtin' });
    expect(largestModel(config)).toBe(BUNDLED_MODEL.name);
  });

  it('offline-3: SmolLM2 proposes first, Qwen2.5-Coder-1.5B is the largest and corrects it, the UCT term favours the others', () => {
    const config = parseModelsConfig(bucketDocument('offline-3', FILES, 20), 'offline-3');
    expect(config.models.map((m) => m.name)).toEqual(['builtin', BUNDLED_MODEL.name, QWEN_MEMBER.name]);
    expect(config.llmBudget).toBe(20);
    const qwen = config.models[2];
    expect(qwen).toMatchObject({ gguf: FILES.qwen, params: 1.5e9, contextTokens: QWEN_MEMBER.contextTokens, maxOutputTokens: QWEN_MEMBER.maxOutputTokens });
    expect(qwen.price).toBeUndefined();
    expect(largestModel(config)).toBe(QWEN_MEMBER.name);
    expect(modelSizes(config)[QWEN_MEMBER.name]).toBeGreaterThan(modelSizes(config)[BUNDLED_MODEL.name]);

    // The pool is not opened (no model is loaded): wiring is pure.
    const pool = new ModelPool(config, ApiKeys.none());
    const { searchOptions } = llmSearchWiring(pool);
    expect(searchOptions.courseAlteration).toEqual({ streak: 2, model: QWEN_MEMBER.name });
    expect(searchOptions.defaultModel).toBe(BUNDLED_MODEL.name);
    expect(searchOptions.modelBias.phi(QWEN_MEMBER.name)).toBe(0);
    expect(searchOptions.modelBias.phi(BUNDLED_MODEL.name)).toBeGreaterThan(0);
    expect(searchOptions.modelBias.phi('builtin')).toBeCloseTo(1, 9);
  });

  it('are written out in the README as the models.json files they are', () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Offline buckets'), readme.indexOf('## Several LLMs in one search'));
    const blocks = [...section.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]) as unknown);
    const files = { smollm: 'models/smollm2-135m-instruct.q4_1.gguf', qwen: 'models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf' };
    expect(blocks).toEqual([bucketDocument('offline', files), bucketDocument('offline-3', files)]);
  });

  it('looks for every file in models/, or in $COLT_MODELS_DIR', () => {
    expect(bucketFiles('/repo', {})).toEqual({
      smollm: '/repo/models/smollm2-135m-instruct.q4_1.gguf',
      qwen: '/repo/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf',
    });
    expect(bucketFiles('/repo', { COLT_MODELS_DIR: '/w' }).qwen).toBe('/w/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf');
  });
});

describe('opening offline-3 without its largest model', () => {
  const smollm = () => {
    const file = path.join(tmp, 'smollm.gguf');
    fs.writeFileSync(file, 'GGUF');
    return file;
  };
  const remedy = 'run `colt models fetch qwen2.5-coder-1.5b`, or use --bucket offline';

  it('names the fetch command when the file is missing or partial', async () => {
    const qwen = path.join(tmp, QWEN_CODER_1_5B.file);
    const missing = await failure(openBucket('offline-3', { smollm: smollm(), qwen }, {}, { shown: (f) => path.basename(f) }));
    expect(missing.code).toBe(Code.InvalidArgument);
    expect(missing.message).toBe(`bucket offline-3 needs ${QWEN_CODER_1_5B.file}, which is missing: ${remedy}`);

    fs.writeFileSync(qwen, 'GGUF and a little');
    const partial = await failure(openBucket('offline-3', { smollm: smollm(), qwen }));
    expect(partial.message).toBe(`bucket offline-3 needs ${qwen}, which is partial (17 of 1117320768 bytes): ${remedy}`);

    // A file of the right size but other bytes fails its SHA-256 the same way (test/llm/fetch.test.ts).
    fs.rmSync(qwen);
  });

  it('still asks for set-up first when SmolLM2 itself is missing', async () => {
    const err = await failure(openBucket('offline-3', { smollm: path.join(tmp, 'none.gguf'), qwen: path.join(tmp, 'none-either.gguf') }));
    expect(err.message).toMatch(/^the bundled model \S+none\.gguf is missing: run `bash scripts\/setup`, or pass --no-llm$/);
  });
});
