// The tree policy: which node to expand next. UCT over the backed-up values, with a seam for
// COLT's model-aware term: score = (1 − λ)·Q̄ + λ·phi(model) + c·sqrt(ln N_parent / n_child).
import { meanValue, type Tree, type TreeNode } from './tree';

/** Prefers nodes whose acting model is cheap; phi(model) in [0, 1], 1 = smallest model. */
export interface ModelBias {
  readonly lambda: number;
  phi(model: string): number;
}

export interface TreePolicy {
  /** A node with fewer children than this (and not terminal) is expanded rather than descended. */
  maxChildren: number;
  explorationC: number;
  modelBias?: ModelBias;
}

export type Selection =
  | { kind: 'expand'; node: TreeNode }
  /** The descent reached children that still await their cost-model score. */
  | { kind: 'pending' }
  /** Nothing in the tree can be expanded. */
  | { kind: 'none' };

/**
 * COLT's model size term: (log P_max − log P_m) / (log P_max − log P_min + 1e-12), clamped to
 * [0, 1]. Sizes are parameter counts or prices, all > 0.
 */
export function phi(size: number, minSize: number, maxSize: number): number {
  if (!(size > 0 && minSize > 0 && maxSize > 0)) {
    throw new RangeError('model sizes must be > 0');
  }
  const value = (Math.log(maxSize) - Math.log(size)) / (Math.log(maxSize) - Math.log(minSize) + 1e-12);
  return Math.min(1, Math.max(0, value));
}

/** A ModelBias from model sizes; a model without a size counts as the largest (phi 0). */
export function modelBiasFromSizes(sizes: Record<string, number>, lambda: number): ModelBias {
  if (!(lambda >= 0 && lambda <= 1)) throw new RangeError(`lambda must be in [0, 1], got ${lambda}`);
  const values = Object.values(sizes);
  const minSize = values.length > 0 ? Math.min(...values) : 1;
  const maxSize = values.length > 0 ? Math.max(...values) : 1;
  const table = new Map<string, number>();
  for (const [model, size] of Object.entries(sizes)) table.set(model, phi(size, minSize, maxSize));
  return { lambda, phi: (model) => table.get(model) ?? 0 };
}

/** λ, or 0 when the siblings' phis are all equal: the term cannot tell them apart then. */
export function effectiveLambda(lambda: number, siblingPhis: readonly number[]): number {
  if (siblingPhis.length === 0) return 0;
  const first = siblingPhis[0];
  return siblingPhis.every((p) => Math.abs(p - first) < 1e-12) ? 0 : lambda;
}

/** The UCT score of a visited child. */
export function uctScore(
  child: TreeNode,
  parentVisits: number,
  explorationC: number,
  lambda = 0,
  childPhi = 0,
): number {
  const exploit = (1 - lambda) * meanValue(child) + lambda * childPhi;
  return exploit + explorationC * Math.sqrt(Math.log(Math.max(1, parentVisits)) / child.visits);
}

/**
 * Picks one of parent's children: unvisited ones first (smallest model first when a model
 * bias is set, then the best predicted score, then the oldest), else the best UCT score
 * (ties to the oldest, so selection is deterministic).
 */
export function selectChild(
  parent: TreeNode,
  children: readonly TreeNode[],
  policy: TreePolicy,
): TreeNode {
  if (children.length === 0) throw new RangeError('selectChild needs at least one child');
  const bias = policy.modelBias;
  const phiOf = (n: TreeNode): number => (bias ? bias.phi(n.model) : 0);

  const unvisited = children.filter((c) => c.visits === 0);
  if (unvisited.length > 0) {
    return unvisited.reduce((best, c) => {
      const byPhi = phiOf(c) - phiOf(best);
      if (byPhi !== 0) return byPhi > 0 ? c : best;
      const byScore = (c.predictedScore ?? 0) - (best.predictedScore ?? 0);
      if (byScore !== 0) return byScore > 0 ? c : best;
      return c.id < best.id ? c : best;
    });
  }

  const lambda = bias ? effectiveLambda(bias.lambda, children.map(phiOf)) : 0;
  let best = children[0];
  let bestScore = -Infinity;
  for (const c of children) {
    const score = uctScore(c, parent.visits, policy.explorationC, lambda, phiOf(c));
    if (score > bestScore || (score === bestScore && c.id < best.id)) {
      best = c;
      bestScore = score;
    }
  }
  return best;
}

function canExpand(node: TreeNode, maxChildren: number): boolean {
  return (
    node.candidate !== undefined &&
    !node.terminal &&
    node.predictedScore !== undefined &&
    node.children.length < maxChildren
  );
}

/**
 * Descends from the root to the node to expand. A node whose children are all terminal and
 * which has no room for another child is marked terminal on the way, so the search never
 * comes back to it.
 */
export function selectLeaf(tree: Tree, policy: TreePolicy): Selection {
  let node = tree.root;
  for (;;) {
    if (canExpand(node, policy.maxChildren)) return { kind: 'expand', node };
    const live = node.children.filter((c) => !c.terminal);
    const ready = live.filter((c) => c.predictedScore !== undefined);
    if (ready.length > 0) {
      node = selectChild(node, ready, policy);
      continue;
    }
    if (live.length > 0) return { kind: 'pending' };
    // The root stays open: sampling may still add children to it.
    if (node === tree.root) return { kind: 'none' };
    node.terminal = true;
    // Restart: the new mark may change choices above. Each restart retires one more node, so
    // this ends.
    node = tree.root;
  }
}
