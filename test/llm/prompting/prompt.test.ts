import { buildCorrectionPrompt, buildProposalPrompt, SYSTEM_INSTRUCTIONS, type PromptInput } from '../../../src/llm/prompting/prompt';
import type { Decision, NodeView } from '../../../src/search/types';
import { contextFor } from '../helpers';

const MODELS = ['small', 'mid', 'large'];

function input(overrides: Partial<PromptInput> = {}): PromptInput {
  return {
    ctx: contextFor(MODELS, { recentExpanders: ['large', 'small', 'mid'] }),
    model: 'small',
    models: [
      { name: 'small', size: 1.5e9, calls: 4, errors: 1, hitRate: 0.25 },
      { name: 'mid', size: 8e9, calls: 2, errors: 0, hitRate: 0.5 },
      { name: 'large', size: 1e12, calls: 1, errors: 0, hitRate: 1 },
    ],
    sizeBy: 'params',
    recentErrors: ['unknown transformation "MutateEverything"'],
    contextTokens: 8192,
    maxOutputTokens: 512,
    ...overrides,
  };
}

/** A node with many tile decisions and a long trace, like a real conv2d. */
function bigNode(id: number, depth: number, shift: number): NodeView {
  const decisions: Decision[] = Array.from({ length: 40 }, (_, i) => ({
    instIndex: 3 * i,
    kind: 'SamplePerfectTile',
    value: i % 7 === shift ? [1, 2, 4, 8] : [2, 2, 4, 4],
    detail: { extent: 64, n: 4, max_innermost_factor: 64 },
  }));
  return { id, depth, traceJson: `[${'["SampleTile", 1, 2, 3],'.repeat(800)}0]`, decisions, predictedScore: 0.4, model: 'small' };
}

describe('proposal prompt', () => {
  it('holds the instructions, the search state, the models, the transformations and three generations', () => {
    const { messages, dropped } = buildProposalPrompt(input());
    expect(dropped).toEqual([]);
    expect(messages[0]).toEqual({ role: 'system', content: SYSTEM_INSTRUCTIONS });
    expect(SYSTEM_INSTRUCTIONS).toContain('{"transformations": [...], "next_model": "<model name>"}');
    expect(SYSTEM_INSTRUCTIONS).toContain('do not over-trust them');
    const user = messages[1].content;
    for (const text of [
      'You are small. The schedule below is at depth 3 of the tree; hardware trials used: 16 of 64.',
      'The last 3 schedules were created by: large, small, mid.',
      'small (you) | 1.50B params | 4 | 1 | 25%',
      'large | 1.00T params | 1 | 0 | 100%',
      '- unknown transformation "MutateEverything"',
      '- MutateTileSize (default probability 0.90): re-samples the tile sizes of one loop split',
      '- MutateUnroll (default probability 0.10): re-samples the auto-unroll limit of a block',
      '## Current schedule (node 3, depth 3)',
      'Predicted score 0.5300; not measured yet.',
      '- inst 0 SampleCategorical: 1 (candidates [0,1,2,3,4,5,6,7,8,9,10,11])',
      'Trace (TVM JSON): [1,2,3,4,5,6]',
      '## Parent (node 2)',
      'Its decisions that differ from the schedule above: inst 5: 7.',
      '## Grandparent (node 1)',
      'Its decisions that differ from the parent: inst 4: 8.',
    ]) {
      expect(user).toContain(text);
    }
  });

  it('shows measured latency when there is one', () => {
    const ctx = contextFor(MODELS);
    ctx.node.measuredLatency = 12.5e-6;
    expect(buildProposalPrompt(input({ ctx })).messages[1].content).toContain('Predicted score 0.5300; measured latency 12.50 us.');
  });

  it('fits the context by dropping the grandparent first, then the parent, then long traces, never the instructions', () => {
    const ctx = contextFor(MODELS);
    ctx.node = bigNode(3, 3, 0);
    ctx.parent = bigNode(2, 2, 1);
    ctx.grandparent = bigNode(1, 1, 2);
    const full = buildProposalPrompt(input({ ctx, contextTokens: 100_000 }));
    expect(full.dropped).toEqual([]);

    let previous: string[] = [];
    for (const contextTokens of [12_000, 8_000, 6_000, 4_500, 3_000, 1_500]) {
      const prompt = buildProposalPrompt(input({ ctx, contextTokens }));
      expect(prompt.messages[0].content).toBe(SYSTEM_INSTRUCTIONS);
      expect(prompt.tokens).toBeLessThanOrEqual(contextTokens - 512);
      // Each tighter limit drops a superset, in the fixed order.
      expect(prompt.dropped.slice(0, previous.length)).toEqual(previous);
      previous = prompt.dropped;
    }
    expect(previous.slice(0, 4)).toEqual(['grandparent trace', 'grandparent', 'parent trace', 'parent']);
    const tight = buildProposalPrompt(input({ ctx, contextTokens: 1_500 })).messages[1].content;
    expect(tight).not.toContain('## Grandparent');
    expect(tight).not.toContain('## Parent');
    expect(tight).toContain('## Current schedule');
    expect(tight).toContain('Answer with the JSON object only');
  });
});

/** TVMScript shaped like the bridge prints a post-processed matmul, with `loops` loops, tagged per schedule. */
function tvmscript(tag: string, loops = 8): string {
  const lines = [
    '# from tvm.script import ir as I',
    '# from tvm.script import tirx as T',
    '',
    '@I.ir_module',
    'class Module:',
    '    @T.prim_func(s_tir=True)',
    `    def main(X: T.Buffer((1, 128, 128), "float32"), Z: T.Buffer((1, 128, 128), "float32")):  # ${tag}`,
  ];
  // Nested up to 6 deep, as a tiled matmul's loops are; past that, sibling loops.
  const depth = (i: number) => Math.min(i, 6) + 2;
  for (let i = 0; i < loops; i++) lines.push(`${'    '.repeat(depth(i))}for ${tag}_${i} in T.grid(2, 4):`);
  const body = '    '.repeat(depth(loops));
  lines.push(`${body}with T.sblock("Z_update"):`);
  lines.push(`${body}    T.reads(Z_global[v_b, v_i, v_j], X[v_b, v_i, v_k])`);
  lines.push(`${body}    T.writes(Z_global[v_b, v_i, v_j])`);
  lines.push(`${body}    Z_global[v_b, v_i, v_j] = Z_global[v_b, v_i, v_j] + X[v_b, v_i, v_k]  # ${tag} end`);
  return lines.join('\n');
}

/** A context whose three schedules carry TVMScript (leaf, parent, grandparent tagged L, P, G). */
function scriptedContext(loops = 8) {
  const ctx = contextFor(MODELS);
  ctx.node.tvmscript = tvmscript('leaf', loops);
  (ctx.parent as NodeView).tvmscript = tvmscript('parent', loops);
  (ctx.grandparent as NodeView).tvmscript = tvmscript('grandparent', loops);
  return ctx;
}

/** The text of one '## ' section of the user message, by the start of its title. */
function section(user: string, title: string): string {
  const start = user.indexOf(`## ${title}`);
  if (start < 0) return '';
  const end = user.indexOf('\n## ', start + 3);
  return user.slice(start, end < 0 ? undefined : end);
}

describe('TVMScript in the prompt', () => {
  it('shows the TVMScript of the leaf, its parent and its grandparent, each in its own section', () => {
    const { messages, dropped } = buildProposalPrompt(input({ ctx: scriptedContext() }));
    expect(dropped).toEqual([]);
    const user = messages[1].content;
    for (const [title, tag] of [
      ['Current schedule', 'leaf'],
      ['Parent', 'parent'],
      ['Grandparent', 'grandparent'],
    ]) {
      const text = section(user, title);
      expect(text).toContain('```python\n@I.ir_module');
      expect(text).toContain('    @T.prim_func(s_tir=True)');
      expect(text).toContain(`for ${tag}_7 in T.grid(2, 4):`);
      expect(text).toContain(`# ${tag} end`);
      expect(text).toContain('with T.sblock("Z_update"):');
    }
    expect(section(user, 'Current schedule')).not.toContain('for parent_0');
    // The printer's imports and the access annotations say nothing about the schedule.
    expect(user).not.toContain('# from tvm.script');
    expect(user).not.toContain('T.reads(');
    expect(user).not.toContain('T.writes(');
  });

  it('goes without TVMScript when the search could not get it', () => {
    const user = buildProposalPrompt(input()).messages[1].content;
    expect(user).not.toContain('TVMScript');
    expect(user).not.toContain('```');
  });

  it('drops the grandparent’s TVMScript first, then the parent’s, then cuts the leaf’s, never the instructions', () => {
    const ctx = scriptedContext(40);
    ctx.node.traceJson = `[${'["SampleTile", 1, 2, 3],'.repeat(300)}0]`;
    const full = buildProposalPrompt(input({ ctx, contextTokens: 100_000 }));
    expect(full.dropped).toEqual([]);

    const seen: Array<{ dropped: string[]; user: string }> = [];
    let previous: string[] = [];
    for (let contextTokens = 9_000; contextTokens >= 1_500; contextTokens -= 100) {
      const prompt = buildProposalPrompt(input({ ctx, contextTokens }));
      expect(prompt.messages[0].content).toBe(SYSTEM_INSTRUCTIONS);
      const user = prompt.messages[1].content;
      expect(user.endsWith('Answer with the JSON object only: {"transformations": [...], "next_model": "..."}')).toBe(true);
      expect(prompt.dropped.slice(0, previous.length)).toEqual(previous);
      expect(prompt.tokens).toBeLessThanOrEqual(contextTokens - 512);
      previous = prompt.dropped;
      seen.push({ dropped: prompt.dropped, user });
    }
    expect(previous.slice(0, 11)).toEqual([
      'grandparent script',
      'grandparent trace',
      'grandparent',
      'parent script',
      'parent trace',
      'parent',
      'long trace',
      'trace',
      'script past 2400 characters',
      'script past 1000 characters',
      'script',
    ]);

    const at = (steps: string[]) => seen.find((p) => p.dropped.join() === steps.join())?.user;
    // Only the grandparent's script gone: its section, the parent's script and the leaf's stay.
    const noGrandScript = at(['grandparent script']);
    expect(noGrandScript).toBeDefined();
    expect(section(noGrandScript as string, 'Grandparent')).not.toContain('TVMScript');
    expect(section(noGrandScript as string, 'Grandparent')).toContain('Trace (TVM JSON)');
    expect(section(noGrandScript as string, 'Parent')).toContain('for parent_39 in');
    // Ancestors gone: the leaf's script whole, then cut at a line, its head kept.
    const leafOnly = at(previous.slice(0, 8)) as string;
    expect(leafOnly).not.toContain('## Parent');
    expect(section(leafOnly, 'Current schedule')).toContain('# leaf end');
    const cut = at(previous.slice(0, 10)) as string;
    const leaf = section(cut, 'Current schedule');
    expect(leaf).toContain('def main(');
    expect(leaf).toContain('for leaf_0 in T.grid(2, 4):');
    expect(leaf).not.toContain('# leaf end');
    expect(leaf).toMatch(/# … \(\d+ more lines\)\n```/);
    expect(leaf.length).toBeLessThan(section(leafOnly, 'Current schedule').length);
    const none = at(previous.slice(0, 11)) as string;
    expect(none).not.toContain('TVMScript');
    expect(none).toContain('## Current schedule');
    expect(none).toContain('- inst 0 SampleCategorical');
  });

  it('keeps the head of the leaf’s TVMScript within the bundled small model’s context', () => {
    // The bundled SmolLM2-135M: 1536 tokens of context, 128 of them for the answer.
    const ctx = scriptedContext(12);
    ctx.node.tvmscript = `${ctx.node.tvmscript}\n${'    # padding\n'.repeat(200)}`;
    const prompt = buildProposalPrompt(input({ ctx, contextTokens: 1536, maxOutputTokens: 128 }));
    expect(prompt.tokens).toBeLessThanOrEqual(1536 - 128);
    expect(prompt.messages[0].content).toBe(SYSTEM_INSTRUCTIONS);
    const leaf = section(prompt.messages[1].content, 'Current schedule');
    expect(leaf).toContain('@T.prim_func(s_tir=True)');
    expect(leaf).toContain('for leaf_0 in T.grid(2, 4):');
    expect(prompt.dropped).toContain('parent');
    expect(prompt.dropped).not.toContain('script');
  });
});

describe('correction prompt', () => {
  it('shows the streak, the small model’s proposal and both scores', () => {
    const proposal = { transformations: [{ kind: 'mutator' as const, name: 'MutateTileSize' }], nextModel: 'small' };
    const edit = { transformations: [{ kind: 'setDecision' as const, instIndex: 4, value: [1, 2] }] };
    const { messages } = buildCorrectionPrompt({
      ...input({ model: 'large' }),
      request: {
        model: 'small',
        proposal,
        parentScore: 0.8,
        childScore: 0.6,
        streak: 2,
        history: [
          { model: 'mid', proposal: edit, parentScore: 0.7, childScore: 0.65 },
          { model: 'small', proposal, parentScore: 0.8, childScore: 0.6 },
        ],
      },
    });
    expect(messages[0].content).toContain(SYSTEM_INSTRUCTIONS);
    expect(messages[0].content).toContain('You are the largest model.');
    const user = messages[1].content;
    expect(user).toContain('Smaller models made the schedule worse 2 times in a row');
    expect(user).toContain('- mid applied [set_decision inst 4 = [1,2]]: score 0.7000 -> 0.6500');
    expect(user).toContain('- small applied [MutateTileSize]: score 0.8000 -> 0.6000');
    expect(user).toContain('beat 0.6000, ideally 0.8000');
    expect(user).toContain('## Schedule to improve (node 3, depth 3)');
  });
});
