// The pure option parsers: `colt tune`'s flags, targets, workload names.
import { Code } from '../../src/errors';
import { parseTarget } from '../../src/options/target';
import { formatIssue, parseTuneOptions } from '../../src/options/tune';
import { workloadName } from '../../src/options/workload';

const ctx = { cores: 6 };

describe('parseTuneOptions', () => {
  it('fills every default from the workload alone', () => {
    const parsed = parseTuneOptions({ workload: 'GMM:1' }, ctx);
    expect(parsed).toEqual({
      ok: true,
      options: {
        workload: 'GMM:1',
        target: { kind: 'llvm', 'num-cores': 6 },
        targetIsHost: true,
        trials: 64,
        perIter: 16,
        workDir: 'runs/gmm_1',
        seed: 0,
        number: 3,
        repeat: 1,
        minRepeatMs: 40,
        timeout: 30,
        checkResults: true,
        costModel: 'xgb',
        json: false,
        llm: true,
        rpcPriority: 1,
        resume: false,
        force: false,
        maxBridgeRestarts: 2,
      },
    });
  });

  it('reads flag strings as numbers and keeps a JSON target as given', () => {
    const parsed = parseTuneOptions(
      { workload: 'kernels/mm.py', trials: '32', perIter: '8', timeout: '2.5', target: '{"kind":"llvm","num-cores":2}' },
      ctx,
    );
    expect(parsed.ok && parsed.options).toMatchObject({
      trials: 32,
      perIter: 8,
      timeout: 2.5,
      target: { kind: 'llvm', 'num-cores': 2 },
      targetIsHost: false,
      workDir: 'runs/mm',
    });
  });

  it("takes `llvm` (and no --target) for this machine's CPU, and any other target as given", () => {
    const isHost = (target?: string) => {
      const parsed = parseTuneOptions(target === undefined ? { workload: 'GMM:1' } : { workload: 'GMM:1', target }, ctx);
      return parsed.ok && parsed.options.targetIsHost;
    };
    expect([isHost(), isHost(' llvm '), isHost('cuda'), isHost('{"kind":"llvm"}')]).toEqual([true, true, false, false]);
  });

  it('reports every bad value at once, by dot path, with what was given', () => {
    const parsed = parseTuneOptions(
      { trials: '0', perIter: 'many', costModel: 'gbm', target: '{"kind":"llvm","num-cores":-1}' },
      ctx,
    );
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.issues.map((i) => i.path)).toEqual(['workload', 'target.num-cores', 'trials', 'perIter', 'costModel']);
    expect(parsed.issues.map(formatIssue)).toEqual([
      '--workload: is required: NAME:IDX (e.g. GMM:1) or the path of a TVMScript file',
      '--target: num-cores must be an integer >= 1 and <= 4096',
      '--trials: must be an integer >= 1 and <= 100000 (got "0")',
      '--per-iter: must be an integer >= 1 and <= 4096 (got "many")',
      '--cost-model: must be xgb or random (got "gbm")',
    ]);
  });

  it('reads --no-check-results: trials are then not compared with the untuned build', () => {
    const parsed = parseTuneOptions({ workload: 'GMM:1', checkResults: false }, ctx);
    expect(parsed.ok && parsed.options.checkResults).toBe(false);
  });

  it('reads --no-llm and --llm-budget, and refuses --no-llm beside --models', () => {
    const parsed = parseTuneOptions({ workload: 'GMM:1', llm: false, llmBudget: '4' }, ctx);
    expect(parsed.ok && parsed.options).toMatchObject({ llm: false, llmBudget: 4 });
    const bad = parseTuneOptions({ workload: 'GMM:1', llm: false, models: 'models.json', llmBudget: '-1' }, ctx);
    expect(!bad.ok && bad.issues.map(formatIssue)).toEqual([
      '--llm-budget: must be an integer >= 0 and <= 100000 (got "-1")',
      '--no-llm: cannot be combined with --models',
    ]);
  });

  it('names malformed target JSON', () => {
    const parsed = parseTuneOptions({ workload: 'GMM:0', target: '{"kind":' }, ctx);
    expect(!parsed.ok && parsed.issues.map(formatIssue)).toEqual([
      expect.stringMatching(/^--target: not valid JSON \(.+\): \{"kind":$/),
    ]);
  });
});

describe('parseTarget', () => {
  it('expands the shorthands', () => {
    expect(parseTarget('llvm', 4)).toEqual({ kind: 'llvm', 'num-cores': 4 });
    expect(parseTarget(' cuda ', 4)).toEqual({ kind: 'cuda' });
  });

  it('rejects the old string form and objects without a kind', () => {
    expect(() => parseTarget('llvm -num-cores 2', 4)).toThrow(expect.objectContaining({ code: Code.InvalidArgument }));
    expect(() => parseTarget('{"arch":"sm_80"}', 4)).toThrow(/needs a "kind"/);
    expect(() => parseTarget('[1]', 4)).toThrow(/unknown target/);
  });
});

describe('workloadName', () => {
  it('names suite workloads as the bridge names their tasks, files by their stem', () => {
    expect(workloadName('GMM:1')).toBe('gmm_1');
    expect(workloadName('/a/b/my-kernel.py')).toBe('my_kernel');
  });
});
