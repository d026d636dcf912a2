import { buildCorrectionPrompt, buildProposalPrompt, SYSTEM_INSTRUCTIONS, type PromptInput } from '../../src/llm/prompt';
import type { Decision, NodeView } from '../../src/search/types';
import { contextFor } from './helpers';

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
