import { extractJsonObject, matchModel, matchMutator, parseAnswer } from '../../../src/llm/prompting/parse';
import type { Decision, MutatorInfo } from '../../../src/search/types';

const MUTATORS: MutatorInfo[] = [
  { name: 'MutateTileSize', probability: 0.9 },
  { name: 'MutateComputeLocation', probability: 0.05 },
  { name: 'MutateUnroll', probability: 0.03 },
  { name: 'MutateParallel', probability: 0.02 },
];
const MODELS = ['qwen2.5-coder-1.5b', 'gpt-5-mini', 'gpt-5'];
const DECISIONS: Decision[] = [
  { instIndex: 4, kind: 'SamplePerfectTile', value: [4, 8, 16, 4], detail: { extent: 2048, n: 4, max_innermost_factor: 64 } },
  { instIndex: 9, kind: 'SampleCategorical', value: 1, detail: { candidates: [0, 16, 64, 512] } },
  { instIndex: 12, kind: 'SampleComputeLocation', value: 2, detail: {} },
];

const parse = (text: string) => parseAnswer({ text, mutators: MUTATORS, decisions: DECISIONS, models: MODELS });

describe('mutator and model names', () => {
  it.each([
    ['MutateTileSize', 'MutateTileSize'],
    ['mutate_tile_size', 'MutateTileSize'],
    ['tile size', 'MutateTileSize'],
    ['TILE-SIZE', 'MutateTileSize'],
    ['meta_schedule.MutateUnroll', 'MutateUnroll'],
    ['MutateTile', 'MutateTileSize'],
    ['compute_loc', 'MutateComputeLocation'],
    ['parallel', 'MutateParallel'],
  ])('matches %j to %s', (name, expected) => {
    expect(matchMutator(name, MUTATORS)).toBe(expected);
  });

  it.each(['MutateEverything', 'mutate', 't', '', 'SampleTile', 'tile size please'])('matches %j to nothing', (name) => {
    expect(matchMutator(name, MUTATORS)).toBeUndefined();
  });

  it('matches models leniently but never ambiguously', () => {
    expect(matchModel('GPT-5', MODELS)).toBe('gpt-5');
    expect(matchModel('gpt 5 mini', MODELS)).toBe('gpt-5-mini');
    expect(matchModel('Qwen2.5 Coder 1.5B', MODELS)).toBe('qwen2.5-coder-1.5b');
    expect(matchModel('qwen', MODELS)).toBe('qwen2.5-coder-1.5b');
    // "gpt5" is gpt-5 exactly; "gpt" is a prefix of two models.
    expect(matchModel('gpt', MODELS)).toBeUndefined();
    expect(matchModel('claude', MODELS)).toBeUndefined();
  });
});

describe('finding the JSON', () => {
  it('takes plain JSON, a fenced block, or the first balanced object in prose', () => {
    const obj = { transformations: ['MutateUnroll'], next_model: 'gpt-5' };
    const json = JSON.stringify(obj);
    expect(extractJsonObject(json)).toEqual(obj);
    expect(extractJsonObject(`Sure! Here it is:\n\`\`\`json\n${json}\n\`\`\`\nGood luck.`)).toEqual(obj);
    expect(extractJsonObject(`I think {this} is best: ${json} because {reasons}.`)).toEqual(obj);
    expect(extractJsonObject('{"a": "a } inside a string", "b": {"c": 1}} trailing')).toEqual({ a: 'a } inside a string', b: { c: 1 } });
    expect(extractJsonObject('{"unterminated": [1, 2')).toBeUndefined();
    expect(extractJsonObject('[1, 2, 3]')).toBeUndefined();
    expect(extractJsonObject('no json here')).toBeUndefined();
  });
});

describe('parseAnswer', () => {
  it('reads mutators and directed edits in order, with the next model', () => {
    const result = parse(
      JSON.stringify({
        transformations: [
          { mutator: 'mutate_tile_size' },
          { set_decision: { inst: 4, value: [8, 4, 16, 4] } },
          'unroll',
          { set_decision: { inst: 9, value: 3 } },
          { setDecision: { instIndex: 12, value: -1 } },
        ],
        next_model: 'GPT-5 mini',
      }),
    );
    expect(result.issues).toEqual([]);
    expect(result.transformations).toEqual([
      { kind: 'mutator', name: 'MutateTileSize' },
      { kind: 'setDecision', instIndex: 4, value: [8, 4, 16, 4] },
      { kind: 'mutator', name: 'MutateUnroll' },
      { kind: 'setDecision', instIndex: 9, value: 3 },
      { kind: 'setDecision', instIndex: 12, value: -1 },
    ]);
    expect(result.nextModel).toBe('gpt-5-mini');
  });

  it('accepts the paper’s "mutators" key and a single transformation that is not in a list', () => {
    expect(parse('{"mutators": ["MutateParallel"], "next_model": "gpt-5"}').transformations).toEqual([
      { kind: 'mutator', name: 'MutateParallel' },
    ]);
    expect(parse('{"transformations": {"mutator": "tile"}, "next_model": "gpt-5"}').transformations).toEqual([
      { kind: 'mutator', name: 'MutateTileSize' },
    ]);
  });

  it('skips unknown transformations and invalid edits, one issue each, and keeps the rest', () => {
    const result = parse(
      JSON.stringify({
        transformations: [
          'MutateEverything',
          { mutator: 'MutateUnroll' },
          { set_decision: { inst: 4, value: [4, 8, 16, 5] } },
          { set_decision: { inst: 4, value: [2048, 1, 1, 1] } },
          { set_decision: { inst: 4, value: [1, 1, 1, 2048] } },
          { set_decision: { inst: 9, value: 4 } },
          { set_decision: { inst: 9, value: '1; rm -rf /' } },
          { set_decision: { inst: 99, value: 1 } },
          { set_decision: { inst: 12, value: -3 } },
        ],
        next_model: 'gpt-5',
      }),
    );
    expect(result.transformations).toEqual([
      { kind: 'mutator', name: 'MutateUnroll' },
      { kind: 'setDecision', instIndex: 4, value: [2048, 1, 1, 1] },
    ]);
    // Only the first 8 are read: the 9th (inst 12, -3) is dropped with its own issue.
    expect(result.issues).toEqual([
      '9 transformations: only the first 8 were used',
      'unknown transformation "MutateEverything"',
      'set_decision inst 4 (SamplePerfectTile): expected 4 positive integers with product 2048, innermost <= 64, got "[4,8,16,5]"',
      'set_decision inst 4 (SamplePerfectTile): expected 4 positive integers with product 2048, innermost <= 64, got "[1,1,1,2048]"',
      'set_decision inst 9 (SampleCategorical): expected an index in 0..3, got "4"',
      'set_decision inst 9: "value" must be a number or a list of numbers, got "1; rm -rf /"',
      'set_decision: the trace has no decision at inst 99',
    ]);
  });

  it('refuses an edit to the value a decision already has, or to the value an earlier edit gave it', () => {
    const result = parse(
      JSON.stringify({
        transformations: [
          { set_decision: { inst: 4, value: [4, 8, 16, 4] } },
          { set_decision: { inst: 9, value: 1 } },
          { set_decision: { inst: 9, value: 2 } },
          { set_decision: { inst: 9, value: 2 } },
          { set_decision: { inst: 12, value: 2 } },
          { set_decision: { inst: 4, value: [4, 8, 16, 3] } },
        ],
        next_model: 'gpt-5',
      }),
    );
    expect(result.transformations).toEqual([{ kind: 'setDecision', instIndex: 9, value: 2 }]);
    expect(result.issues).toEqual([
      'set_decision inst 4: it is "[4,8,16,4]" already (a no-op)',
      'set_decision inst 9: it is "1" already (a no-op)',
      'set_decision inst 9: it is "2" already (a no-op)',
      'set_decision inst 12: it is "2" already (a no-op)',
      'set_decision inst 4 (SamplePerfectTile): expected 4 positive integers with product 2048, innermost <= 64, got "[4,8,16,3]"',
    ]);
  });

  it('falls back from an unknown or missing next model to nothing, with an issue', () => {
    const unknown = parse('{"transformations": ["MutateUnroll"], "next_model": "claude-opus"}');
    expect(unknown.nextModel).toBeUndefined();
    expect(unknown.json).toBe(true);
    expect(unknown.issues).toEqual(['unknown next_model "claude-opus"']);
    expect(parse('{"transformations": ["MutateUnroll"]}').issues).toEqual(['no "next_model"']);
    expect(parse('{"transformations": ["MutateUnroll"], "next_model": ["gpt-5"]}').issues).toEqual([
      'next_model must be a model name, got "[\\"gpt-5\\"]"',
    ]);
  });

  it('ignores an over-long answer whole, and says why for empty and JSON-less ones', () => {
    const long = `{"transformations": ["MutateUnroll"], "next_model": "gpt-5", "pad": "${'x'.repeat(20_000)}"}`;
    expect(parse(long)).toEqual({ transformations: [], json: false, issues: ['the answer is longer than 16384 bytes and was ignored'] });
    expect(parse('   ').issues).toEqual(['the answer was empty']);
    expect(parse('Use MutateTileSize, then hand over to gpt-5.').issues[0]).toMatch(/^no JSON object found/);
  });

  it('reads __proto__ and constructor keys as plain data', () => {
    const result = parse('{"__proto__": {"polluted": true}, "constructor": 1, "transformations": ["tile"], "next_model": "gpt-5"}');
    expect(result.transformations).toHaveLength(1);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
