import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Code, ColtError } from '../../src/errors';
import { ApiKeys, MAX_MODELS_FILE_BYTES, isLoopbackHost, largestModel, loadModelsConfig, modelSizes, parseModelsConfig } from '../../src/llm/config';

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
    expect(issuesOf({ models: [{ name: 'a', baseURL: 'https://x/v1', params: 1, apiKeyEnv: 'sk-abc123' }] })).toEqual([
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
      expect(() => loadModelsConfig(file)).toThrow(`models file ${file} is not valid JSON (line 1, column 27)`);
      fs.writeFileSync(file, '{"secret": "hunter2", "token": "abc"}');
      expect(() => loadModelsConfig(file)).toThrow(`models file ${file} is not a models file: expected a JSON object with a "models" list`);
      fs.writeFileSync(file, '{"models": [{"name": "a", "baseURL": "http://x/v1"}]}');
      expect(() => loadModelsConfig(file)).toThrow(
        expect.objectContaining({ code: Code.InvalidArgument, message: `invalid ${file}: models.0.params: is required` }),
      );
    });

    it('refuses what is not a small file without reading it to the end: /dev/zero, a huge file, a folder', () => {
      expect(() => loadModelsConfig('/dev/zero')).toThrow('models file /dev/zero is larger than 1 MiB: not a models file');
      const big = path.join(dir, 'big.json');
      fs.writeFileSync(big, `{"models": [], "pad": "${'x'.repeat(MAX_MODELS_FILE_BYTES)}"}`);
      expect(() => loadModelsConfig(big)).toThrow(`models file ${big} is larger than 1 MiB: not a models file`);
      expect(() => loadModelsConfig(dir)).toThrow(`cannot read models file ${dir}: a folder`);
      // Just under the limit is read as usual.
      fs.writeFileSync(big, JSON.stringify(good) + ' '.repeat(MAX_MODELS_FILE_BYTES - 1000));
      expect(loadModelsConfig(big).models).toHaveLength(3);
    });
  });

  describe('keys go only over https or to loopback', () => {
    const keyed = (baseURL: string, extra: Record<string, unknown> = {}) => ({
      models: [{ name: 'a', baseURL, apiKeyEnv: 'SOME_KEY', params: 1, ...extra }],
    });

    it('refuses plain http to another host when the model has a key, naming the way out', () => {
      for (const url of ['http://192.0.2.1/v1', 'http://api.example.com:8080/v1', 'http://10.0.0.5/v1', 'http://[2001:db8::1]/v1', 'http://127.0.0.1.nip.io/v1']) {
        const issues = issuesOf(keyed(url));
        expect(issues).toHaveLength(1);
        expect(issues[0]).toMatch(/^models\.0\.baseURL: plain http to \S+ would send the key in \$SOME_KEY unencrypted: use https .*"insecureHttp": true$/);
      }
    });

    it('lets https, loopback, key-less models and an explicit insecureHttp through', () => {
      for (const url of ['https://api.example.com/v1', 'http://127.0.0.1:8080/v1', 'http://127.9.9.9/v1', 'http://localhost:1234/v1', 'http://[::1]:8080/v1']) {
        expect(() => parseModelsConfig(keyed(url))).not.toThrow();
      }
      expect(() => parseModelsConfig({ models: [{ name: 'a', baseURL: 'http://192.0.2.1/v1', params: 1 }] })).not.toThrow();
      expect(() => parseModelsConfig(keyed('http://192.0.2.1/v1', { insecureHttp: true }))).not.toThrow();
      expect(isLoopbackHost('[::1]') && isLoopbackHost('LOCALHOST') && !isLoopbackHost('128.0.0.1')).toBe(true);
    });

    it("checks $OPENAI_BASE_URL for a keyed model without a baseURL, at start-up", () => {
      const config = parseModelsConfig({ models: [{ name: 'a', apiKeyEnv: 'SOME_KEY', params: 1 }] });
      expect(() => ApiKeys.fromEnv(config, { SOME_KEY: 'sk-1', OPENAI_BASE_URL: 'http://192.0.2.1/v1' })).toThrow(
        /^\$OPENAI_BASE_URL \(the endpoint of a\): plain http to 192\.0\.2\.1 would send the key/,
      );
      expect(ApiKeys.fromEnv(config, { SOME_KEY: 'sk-1', OPENAI_BASE_URL: 'https://proxy.example.com/v1' }).get('a')).toBe('sk-1');
    });
  });
});
