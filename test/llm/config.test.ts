import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Code, ColtError } from '../../src/errors';
import { largestModel, loadModelsConfig, modelSizes, parseModelsConfig } from '../../src/llm/config';

const good = {
  models: [
    { name: 'qwen2.5-coder-1.5b', baseURL: 'http://127.0.0.1:8080/v1', params: 1.5e9, price: { inputPerMTok: 0.02, outputPerMTok: 0.05 } },
    { name: 'gpt-5-mini', baseURL: 'https://api.openai.com/v1', apiKeyEnv: 'OPENAI_API_KEY', params: 8e9, price: { inputPerMTok: 0.25, outputPerMTok: 2 } },
    { name: 'gpt-5', baseURL: 'https://api.openai.com/v1', apiKeyEnv: 'OPENAI_API_KEY', params: 1e12, price: { inputPerMTok: 1.25, outputPerMTok: 10 } },
  ],
  llmBudget: 200,
  lambda: 0.3,
  courseAlteration: { streak: 2 },
};

function issuesOf(json: unknown): string[] {
  try {
    parseModelsConfig(json);
  } catch (err) {
    expect(err).toBeInstanceOf(ColtError);
    expect((err as ColtError).code).toBe(Code.InvalidArgument);
    expect((err as Error).message.split('\n')).toHaveLength(1);
    return [...((err as ColtError).details.issues ?? [])];
  }
  throw new Error('expected a ColtError');
}

describe('models.json', () => {
  it('fills in every default', () => {
    const config = parseModelsConfig(good);
    expect(config.models[0]).toEqual({
      ...good.models[0],
      model: 'qwen2.5-coder-1.5b',
      contextTokens: 8192,
      maxOutputTokens: 512,
      timeoutMs: 30000,
      maxRetries: 2,
      maxTokensParam: 'max_tokens',
    });
    expect(config).toMatchObject({ llmBudget: 200, lambda: 0.3, explorationC: 0.3, sizeBy: 'params', courseAlteration: { streak: 2, enabled: true } });
    expect(config.moneyBudget).toBeUndefined();
    expect(largestModel(config)).toBe('gpt-5');
  });

  it('sizes models by price when asked', () => {
    const config = parseModelsConfig({ ...good, sizeBy: 'price' });
    expect(modelSizes(config)).toEqual({ 'qwen2.5-coder-1.5b': 0.07, 'gpt-5-mini': 2.25, 'gpt-5': 11.25 });
    expect(issuesOf({ models: [{ name: 'a', baseURL: 'http://x/v1', params: 1 }], sizeBy: 'price' })).toEqual([
      'models.0.price: sizeBy is "price": expected a price above 0',
    ]);
  });

  it('lists every bad value by dot path', () => {
    expect(
      issuesOf({
        models: [
          { name: 'a', baseURL: 'http://x/v1', params: 1e9 },
          { name: 'b', baseURL: 'ftp://x', params: -3, price: { inputPerMTok: 'cheap' }, temprature: 0.5, timeoutMs: 0 },
        ],
        lambda: 2,
        llmBudget: 1.5,
        sizeBy: 'vibes',
      }),
    ).toEqual([
      'models.1.baseURL: expected an http(s) URL, e.g. http://127.0.0.1:8080/v1',
      'models.1.params: expected a positive number',
      'models.1.price.inputPerMTok: expected a number >= 0',
      'models.1.price.outputPerMTok: is required',
      'models.1.timeoutMs: expected an integer >= 1',
      'models.1.temprature: unknown key',
      'llmBudget: expected an integer >= 0',
      'lambda: expected a number in [0, 1]',
      'sizeBy: expected "params" or "price"',
    ]);
  });

  it('rejects duplicate names, a model without an endpoint, and output limits past the context', () => {
    expect(
      issuesOf({
        models: [
          { name: 'a', baseURL: 'http://x/v1', params: 1 },
          { name: 'a', baseURL: 'http://y/v1', params: 2 },
          { name: 'c', params: 3, contextTokens: 1024, maxOutputTokens: 1024 },
        ],
      }),
    ).toEqual([
      'models.1.name: duplicate name "a" (also models.0)',
      "models.2.baseURL: is required unless apiKeyEnv is set (then OpenAI's own endpoint is used): e.g. http://127.0.0.1:8080/v1",
      'models.2.maxOutputTokens: must be below contextTokens (1024)',
    ]);
  });

  it('rejects what is not a models file at all', () => {
    expect(issuesOf([])).toEqual(['(top level): expected a JSON object with a "models" list']);
    expect(issuesOf({ models: [] })).toEqual(['models: expected at least one model']);
    expect(issuesOf({})).toEqual(['models: is required']);
    expect(issuesOf({ models: [{ name: 'a', baseURL: 'http://x/v1', params: 1, apiKeyEnv: 'sk-abc123' }] })).toEqual([
      'models.0.apiKeyEnv: expected an environment variable name like OPENAI_API_KEY',
    ]);
  });

  describe('loading', () => {
    let dir: string;
    beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-models-'))));
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('loads a file, and turns a missing file, bad JSON or a bad value into one line', () => {
      const file = path.join(dir, 'models.json');
      fs.writeFileSync(file, JSON.stringify(good));
      expect(loadModelsConfig(file).models.map((m) => m.name)).toEqual(['qwen2.5-coder-1.5b', 'gpt-5-mini', 'gpt-5']);

      expect(() => loadModelsConfig(path.join(dir, 'nope.json'))).toThrow(`cannot read models file ${dir}/nope.json: no such file`);
      fs.writeFileSync(file, '{"models": [ {"name": "a",, } ]');
      expect(() => loadModelsConfig(file)).toThrow(new RegExp(`^${file} is not valid JSON: [^\\n]+$`));
      fs.writeFileSync(file, '{"models": [{"name": "a", "baseURL": "http://x/v1"}]}');
      expect(() => loadModelsConfig(file)).toThrow(
        expect.objectContaining({ code: Code.InvalidArgument, message: `invalid ${file}: models.0.params: is required` }),
      );
    });
  });
});
