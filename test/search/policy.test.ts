import {
  effectiveLambda,
  modelBiasFromSizes,
  phi,
  selectChild,
  selectLeaf,
  uctScore,
  type TreePolicy,
} from '../../src/search/policy';
import { Tree, type TreeNode } from '../../src/search/tree';

const policy: TreePolicy = { maxChildren: 2, explorationC: 1.41 };

function add(tree: Tree, parent: TreeNode, name: string, score = 0.5, model = 'm'): TreeNode {
  const node = tree.addChild(parent, { traceJson: name, shash: name, decisions: [] }, model)!;
  node.predictedScore = score;
  return node;
}

function visit(tree: Tree, node: TreeNode, times: number, value: number): void {
  for (let i = 0; i < times; i++) tree.backup(node, value);
}

describe('UCT selection', () => {
  it('prefers unvisited children, best predicted first, then the higher value', () => {
    const tree = new Tree('m');
    const a = add(tree, tree.root, 'a', 0.9);
    const b = add(tree, tree.root, 'b', 0.2);
    const c = add(tree, tree.root, 'c', 0.4);
    visit(tree, a, 3, 0.9);
    // a has the highest value, but b and c have never been visited.
    expect(selectChild(tree.root, [a, b, c], policy)).toBe(c);
    visit(tree, c, 3, 0.1);
    expect(selectChild(tree.root, [a, b, c], policy)).toBe(b);
    visit(tree, b, 3, 0.5);
    // Equal visits: the exploration terms are equal, so the higher mean value wins.
    expect(selectChild(tree.root, [a, b, c], policy)).toBe(a);
  });

  it('explores a rarely visited child when its bonus outweighs the value gap', () => {
    const tree = new Tree('m');
    const a = add(tree, tree.root, 'a');
    const b = add(tree, tree.root, 'b');
    visit(tree, a, 50, 0.6);
    visit(tree, b, 1, 0.4);
    expect(uctScore(b, tree.root.visits, 1.41)).toBeGreaterThan(uctScore(a, tree.root.visits, 1.41));
    expect(selectChild(tree.root, [a, b], policy)).toBe(b);
    expect(selectChild(tree.root, [a, b], { ...policy, explorationC: 0 })).toBe(a);
  });

  it('expands a node with room for children and descends past full ones', () => {
    const tree = new Tree('m');
    const a = add(tree, tree.root, 'a');
    expect(selectLeaf(tree, policy)).toEqual({ kind: 'expand', node: a });
    const a1 = add(tree, a, 'a1');
    visit(tree, a1, 1, 0.5);
    expect(selectLeaf(tree, policy)).toEqual({ kind: 'expand', node: a });
    const a2 = add(tree, a, 'a2');
    visit(tree, a2, 1, 0.7);
    // a is full: the policy goes down to its better child.
    expect(selectLeaf(tree, policy)).toEqual({ kind: 'expand', node: a2 });
  });

  it('never selects a terminal node, and retires a full node whose children are all terminal', () => {
    const tree = new Tree('m');
    const a = add(tree, tree.root, 'a', 0.9);
    const b = add(tree, tree.root, 'b', 0.1);
    for (let i = 0; i < 5; i++) tree.recordFailure(a, 5);
    expect(a.terminal).toBe(true);
    for (let i = 0; i < 20; i++) {
      const s = selectLeaf(tree, policy);
      expect(s.kind === 'expand' && s.node).toBe(b);
    }
    const b1 = add(tree, b, 'b1');
    const b2 = add(tree, b, 'b2');
    b1.terminal = true;
    b2.terminal = true;
    expect(selectLeaf(tree, policy)).toEqual({ kind: 'none' });
    expect(b.terminal).toBe(true);
    // The root stays open so that sampling can add to it.
    expect(tree.root.terminal).toBe(false);
  });

  it('asks for scores when the only way down is through unscored children', () => {
    const tree = new Tree('m');
    const a = add(tree, tree.root, 'a');
    const a1 = add(tree, a, 'a1');
    const a2 = add(tree, a, 'a2');
    a1.predictedScore = undefined;
    a2.predictedScore = undefined;
    expect(selectLeaf(tree, policy)).toEqual({ kind: 'pending' });
    a2.predictedScore = 0.5;
    expect(selectLeaf(tree, policy)).toEqual({ kind: 'expand', node: a2 });
  });
});

describe('model-aware term', () => {
  it('gives the largest model 0 and the smallest 1, log-scaled in between', () => {
    expect(phi(70e9, 1e9, 70e9)).toBe(0);
    expect(phi(1e9, 1e9, 70e9)).toBeCloseTo(1, 9);
    const mid = Math.sqrt(1e9 * 70e9);
    expect(phi(mid, 1e9, 70e9)).toBeCloseTo(0.5, 9);
    // Clamped: sizes outside the range do not leave [0, 1].
    expect(phi(1e12, 1e9, 70e9)).toBe(0);
    expect(phi(1e6, 1e9, 70e9)).toBe(1);
    // One model only: no division by zero.
    expect(phi(7e9, 7e9, 7e9)).toBe(0);
  });

  it('switches itself off when all siblings share phi', () => {
    expect(effectiveLambda(0.3, [0.5, 0.5, 0.5])).toBe(0);
    expect(effectiveLambda(0.3, [0, 1])).toBe(0.3);
    const bias = modelBiasFromSizes({ small: 1e9, big: 70e9 }, 0.5);
    expect(bias.phi('small')).toBeCloseTo(1, 9);
    expect(bias.phi('big')).toBe(0);
    expect(bias.phi('unknown')).toBe(0);
  });

  it('tilts selection toward the smaller model when lambda > 0', () => {
    const tree = new Tree('m');
    const big = add(tree, tree.root, 'big', 0.5, 'big');
    const small = add(tree, tree.root, 'small', 0.5, 'small');
    visit(tree, big, 4, 0.6);
    visit(tree, small, 4, 0.5);
    const sizes = { small: 1e9, big: 70e9 };
    expect(selectChild(tree.root, [big, small], policy)).toBe(big);
    const biased = { ...policy, modelBias: modelBiasFromSizes(sizes, 0.3) };
    expect(selectChild(tree.root, [big, small], biased)).toBe(small);
    // Among unvisited children the smallest model goes first.
    const tree2 = new Tree('m');
    const u1 = add(tree2, tree2.root, 'u1', 0.9, 'big');
    const u2 = add(tree2, tree2.root, 'u2', 0.1, 'small');
    expect(selectChild(tree2.root, [u1, u2], biased)).toBe(u2);
    expect(selectChild(tree2.root, [u1, u2], policy)).toBe(u1);
  });
});
