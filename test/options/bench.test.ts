// `colt bench` flags: defaults filled in, every mistake named by its flag.
import { parseBenchOptions } from '../../src/options/bench';

const ctx = { cores: 4 };

describe('parseBenchOptions', () => {
  it('fills the defaults, with this machine\'s cores in the target', () => {
    const parsed = parseBenchOptions({}, ctx);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.options).toMatchObject({
      workloads: ['GMM:1', 'C2D:0'],
      strategies: ['colt', 'evolutionary'],
      budgets: [16, 32, 64],
      seeds: 3,
      out: 'runs/bench',
      target: { kind: 'llvm', 'num-cores': 4 },
      targetIsShorthand: true,
    });
  });

  it('takes lists, sorting and deduplicating budgets', () => {
    const parsed = parseBenchOptions(
      { workloads: 'GMM:1, llama3-attn', strategies: 'colt,colt-no-llm,replay-trace', budgets: '64,16,32,16', target: '{"kind":"llvm","num-cores":2}' },
      ctx,
    );
    expect(parsed.ok && parsed.options).toMatchObject({
      workloads: ['GMM:1', 'llama3-attn'],
      strategies: ['colt', 'colt-no-llm', 'replay-trace'],
      budgets: [16, 32, 64],
      target: { kind: 'llvm', 'num-cores': 2 },
      targetIsShorthand: false,
    });
  });

  it('names each bad flag once', () => {
    const parsed = parseBenchOptions({ strategies: 'colt,magic', budgets: '0,x', seeds: '0', target: '{"kind":"cuda"}' }, ctx);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.issues).toEqual([
      expect.stringMatching(/^--strategies: must each be one of colt, colt-no-llm, colt-pretrained, colt-no-llm-pretrained, colt-offline-3, colt-qwen, evolutionary, replay-trace/),
      expect.stringMatching(/^--budgets: must be positive trial counts/),
      expect.stringMatching(/^--seeds: must be an integer >= 1 and <= 100/),
      '--target: colt bench compares on this CPU: give an llvm target',
    ]);
  });

  it('refuses a strategy named twice', () => {
    const parsed = parseBenchOptions({ strategies: 'colt,colt' }, ctx);
    expect(parsed.ok || parsed.issues).toEqual(['--strategies: must not repeat a strategy']);
  });

  it('gives --cost-model-file to the -pretrained strategies, and needs the two together', () => {
    const ab = parseBenchOptions({ strategies: 'colt-no-llm,colt-no-llm-pretrained,evolutionary', costModelFile: 'runs/cost-model.npz' }, ctx);
    expect(ab.ok && ab.options).toMatchObject({ strategies: ['colt-no-llm', 'colt-no-llm-pretrained', 'evolutionary'], costModelFile: 'runs/cost-model.npz' });
    const noFile = parseBenchOptions({ strategies: 'colt,colt-pretrained' }, ctx);
    expect(noFile.ok || noFile.issues).toEqual(['--cost-model-file: must name the file colt-pretrained score with (scripts/cost-model train)']);
    const noUser = parseBenchOptions({ strategies: 'colt,evolutionary', costModelFile: 'm.npz' }, ctx);
    expect(noUser.ok || noUser.issues).toEqual([
      '--cost-model-file: is used only by colt-pretrained or colt-no-llm-pretrained: add one to --strategies',
    ]);
  });
});
