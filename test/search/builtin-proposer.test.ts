import { BuiltinProposer } from '../../src/search/builtin-proposer';
import { editsFor, isValidTile, neighbourTilings, randomDirectedEdit } from '../../src/search/directed-edit';
import { Rng } from '../../src/search/rng';
import type { Decision, MutatorInfo, ProposalContext, Transformation } from '../../src/search/types';

const CPU_MUTATORS: MutatorInfo[] = [
  { name: 'MutateTileSize', probability: 0.9 },
  { name: 'MutateComputeLocation', probability: 0.05 },
  { name: 'MutateUnroll', probability: 0.03 },
  { name: 'MutateParallel', probability: 0.02 },
];

const tile = (instIndex: number, extent: number, value: number[], maxInnermost = 0): Decision => ({
  instIndex,
  kind: 'SamplePerfectTile',
  value,
  detail: { extent, n: value.length, max_innermost_factor: maxInnermost },
});

function context(decisions: Decision[], rng: Rng, mutators = CPU_MUTATORS): ProposalContext {
  return {
    node: { id: 1, depth: 1, traceJson: '[]', decisions, predictedScore: 0.5, model: 'builtin' },
    mutators,
    trialsUsed: 0,
    maxTrials: 64,
    models: ['builtin'],
    random: () => rng.next(),
  };
}

describe('directed edits', () => {
  it('keep every tile a perfect factorisation of its extent within max_innermost_factor', () => {
    const rng = new Rng(3);
    const detail = { extent: 1024, n: 4, maxInnermostFactor: 16 };
    let value = [4, 8, 16, 2];
    // A random walk of edits: every step must stay valid, and the walk must actually move.
    const seen = new Set<string>();
    for (let step = 0; step < 500; step++) {
      const edit = randomDirectedEdit([tile(7, 1024, value, 16)], () => rng.next());
      expect(edit).toBeDefined();
      const t = edit as Extract<Transformation, { kind: 'setDecision' }>;
      expect(t.instIndex).toBe(7);
      expect(t.value).not.toEqual(value);
      expect(isValidTile(detail, t.value)).toBe(true);
      value = t.value as number[];
      seen.add(JSON.stringify(value));
    }
    expect(seen.size).toBeGreaterThan(20);
  });

  it('never pushes the innermost factor past its bound', () => {
    // Innermost is at the bound: no move may multiply into it.
    const moves = neighbourTilings({ extent: 64, n: 3, maxInnermostFactor: 4 }, [4, 4, 4]);
    expect(moves.length).toBeGreaterThan(0);
    for (const m of moves) {
      expect(m[2]).toBeLessThanOrEqual(4);
      expect(m.reduce((a, b) => a * b, 1)).toBe(64);
    }
    // Without a bound the innermost may grow.
    expect(neighbourTilings({ extent: 64, n: 3, maxInnermostFactor: 0 }, [4, 4, 4]).some((m) => m[2] > 4)).toBe(true);
  });

  it('handles odd extents, categorical choices, and refuses malformed decisions', () => {
    for (const m of neighbourTilings({ extent: 90, n: 2, maxInnermostFactor: 0 }, [9, 10])) {
      expect(m[0] * m[1]).toBe(90);
    }
    const cat: Decision = { instIndex: 3, kind: 'SampleCategorical', value: 1, detail: { candidates: [0, 16, 64, 512] } };
    expect(editsFor(cat).map((e) => (e as { value: number }).value)).toEqual([0, 2, 3]);
    expect(editsFor(tile(0, 100, [3, 3]))).toEqual([]); // product is not the extent
    expect(editsFor(tile(0, 16, [1, 16], 8))).toEqual([]); // already past its bound
    expect(editsFor({ instIndex: 0, kind: 'SampleCategorical', value: 0, detail: { candidates: [1] } })).toEqual([]);
    expect(editsFor({ instIndex: 0, kind: 'SampleComputeLocation', value: 2, detail: {} })).toEqual([]);
    expect(randomDirectedEdit([], Math.random)).toBeUndefined();
  });
});

describe('BuiltinProposer', () => {
  it('draws mutators with MetaSchedule default probabilities before any feedback', async () => {
    const proposer = new BuiltinProposer({ directedShare: 0, pairShare: 0 });
    expect(proposer.weights(CPU_MUTATORS)).toEqual([0.9, 0.05, 0.03, 0.02].map((p) => expect.closeTo(p, 9)));
    const rng = new Rng(11);
    const counts: Record<string, number> = {};
    const proposals = await Promise.all(Array.from({ length: 2000 }, () => proposer.propose(context([], rng))));
    expect(proposals.every((p) => p.transformations.length === 1 && p.nextModel === undefined)).toBe(true);
    for (const p of proposals) {
      const t = p.transformations[0] as { name: string };
      counts[t.name] = (counts[t.name] ?? 0) + 1;
    }
    expect(counts.MutateTileSize / 2000).toBeCloseTo(0.9, 1);
  });

  it('shifts weight toward mutators whose children the cost model liked', () => {
    const proposer = new BuiltinProposer();
    const unroll = { transformations: [{ kind: 'mutator', name: 'MutateUnroll' } as const] };
    const tileSize = { transformations: [{ kind: 'mutator', name: 'MutateTileSize' } as const] };
    const before = proposer.weights(CPU_MUTATORS);
    for (let i = 0; i < 30; i++) {
      proposer.feedback(unroll, true);
      proposer.feedback(tileSize, false);
    }
    const after = proposer.weights(CPU_MUTATORS);
    expect(after[2]).toBeGreaterThan(before[2] * 5);
    expect(after[0]).toBeLessThan(before[0]);
    expect(after.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    // Directed edits carry no mutator, so they leave the weights alone.
    proposer.feedback({ transformations: [{ kind: 'setDecision', instIndex: 0, value: [1] }] }, true);
    expect(proposer.weights(CPU_MUTATORS)).toEqual(after);
  });

  it('sometimes makes a directed edit and sometimes chains two mutators', async () => {
    const proposer = new BuiltinProposer();
    const rng = new Rng(5);
    const decisions = [tile(2, 512, [8, 8, 8], 16)];
    let directed = 0;
    let pairs = 0;
    for (let i = 0; i < 1000; i++) {
      const p = await proposer.propose(context(decisions, rng));
      if (p.transformations[0].kind === 'setDecision') {
        directed++;
        expect(isValidTile({ extent: 512, n: 3, maxInnermostFactor: 16 }, p.transformations[0].value)).toBe(true);
      } else if (p.transformations.length === 2) {
        pairs++;
      }
    }
    expect(directed / 1000).toBeCloseTo(0.15, 1);
    expect(pairs).toBeGreaterThan(100);
  });

  it('falls back to a directed edit when no mutator is usable, and to nothing when neither is', async () => {
    const proposer = new BuiltinProposer({ directedShare: 0 });
    const rng = new Rng(1);
    const p = await proposer.propose(context([tile(0, 8, [2, 4])], rng, []));
    expect(p.transformations[0]?.kind).toBe('setDecision');
    expect((await proposer.propose(context([], rng, []))).transformations).toEqual([]);
  });
});
