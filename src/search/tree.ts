// The search tree: nodes are validated schedules (traces), the root is a dummy without one,
// and its children are the initial population. Statistics follow MCTS: every simulation that
// passes through a node adds a visit and its value.
import type { Candidate, MeasureErrorCode, NodeView } from './types';

/** Where a node stands with hardware measurement. */
export type MeasuredState =
  | { status: 'unmeasured' }
  | { status: 'pending' }
  | { status: 'ok'; latencySec: number }
  | { status: 'error'; code: MeasureErrorCode };

export interface TreeNode {
  readonly id: number;
  readonly parent: TreeNode | undefined;
  readonly children: TreeNode[];
  readonly depth: number;
  /** Undefined only for the root. */
  readonly candidate: Candidate | undefined;
  /** The model that acts on this node next. */
  model: string;
  /** The model whose proposal created this node; undefined for sampled nodes. */
  readonly expandedBy: string | undefined;
  /** Cost-model score; undefined until the cost model has seen the trace. */
  predictedScore: number | undefined;
  visits: number;
  valueSum: number;
  /** Expansions of this node that produced nothing new. */
  failures: number;
  terminal: boolean;
  measured: MeasuredState;
  /** Trials of this schedule lost with their device (not counted as trials). */
  lostRuns: number;
}

/** One node as plain data; children by id, in the parent's order. */
export interface NodeSnapshot {
  id: number;
  parent: number | null;
  children: number[];
  candidate?: Candidate;
  model: string;
  expandedBy?: string;
  predictedScore?: number;
  visits: number;
  valueSum: number;
  failures: number;
  terminal: boolean;
  measured: MeasuredState;
  lostRuns: number;
  /** Taken out of the tree by replace(). */
  removed: boolean;
}

/** The whole tree as plain data, every node by id (index = id), the root first. */
export interface TreeSnapshot {
  nodes: NodeSnapshot[];
}

/** Mean backed-up value Q̄ of a node (0 when never visited). */
export function meanValue(node: TreeNode): number {
  return node.visits > 0 ? node.valueSum / node.visits : 0;
}

/** Value of a predicted score, as the published code backs it up: max(0, prediction). */
export function scoreValue(score: number): number {
  return Math.max(0, score);
}

export function traceOf(node: TreeNode): string {
  if (!node.candidate) throw new Error('the root has no trace');
  return node.candidate.traceJson;
}

export class Tree {
  readonly root: TreeNode;
  private readonly nodes: TreeNode[] = [];
  private readonly shashes = new Map<string, TreeNode>();
  /** Nodes taken out by replace(); they keep their ids, so ids stay unique. */
  private readonly removed = new Set<TreeNode>();

  /** rootModel labels the dummy root; nothing ever acts on it. */
  constructor(rootModel: string) {
    this.root = newNode(0, undefined, undefined, rootModel, undefined);
    this.nodes.push(this.root);
  }

  /** Number of schedules in the tree (the root and replaced nodes excluded). */
  get size(): number {
    return this.nodes.length - 1 - this.removed.size;
  }

  /** All schedule nodes in creation order (the root and replaced nodes excluded). */
  schedules(): readonly TreeNode[] {
    return this.nodes.slice(1).filter((n) => !this.removed.has(n));
  }

  /** Whether a structurally equal schedule is already in the tree. */
  hasShash(shash: string): boolean {
    return this.shashes.has(shash);
  }

  /** The node that holds a schedule (a replaced one included), if any. */
  byShash(shash: string): TreeNode | undefined {
    return this.shashes.get(shash);
  }

  /** Whether replace() took the node out. */
  isRemoved(node: TreeNode): boolean {
    return this.removed.has(node);
  }

  /** Adds a schedule under parent; undefined when an equal schedule (same shash) is already here. */
  addChild(
    parent: TreeNode,
    candidate: Candidate,
    model: string,
    expandedBy?: string,
  ): TreeNode | undefined {
    if (this.shashes.has(candidate.shash)) return undefined;
    const node = newNode(this.nodes.length, parent, candidate, model, expandedBy);
    this.shashes.set(candidate.shash, node);
    parent.children.push(node);
    this.nodes.push(node);
    return node;
  }

  /**
   * Puts a new schedule in old's place under the same parent, with old's visits and value, and
   * takes old out of the tree. old's shash stays known, so its schedule is never created (or
   * measured) again. undefined when the new schedule is already in the tree.
   */
  replace(old: TreeNode, candidate: Candidate, model: string, expandedBy?: string): TreeNode | undefined {
    const parent = old.parent;
    if (!parent || this.removed.has(old)) throw new Error(`node ${old.id} cannot be replaced`);
    // Its children would lose their parent's schedule: only a fresh leaf can be replaced.
    if (old.children.length > 0) throw new Error(`node ${old.id} has children and cannot be replaced`);
    if (this.shashes.has(candidate.shash)) return undefined;
    const node = newNode(this.nodes.length, parent, candidate, model, expandedBy);
    this.shashes.set(candidate.shash, node);
    node.visits = old.visits;
    node.valueSum = old.valueSum;
    parent.children[parent.children.indexOf(old)] = node;
    this.nodes.push(node);
    this.removed.add(old);
    old.terminal = true;
    return node;
  }

  /** One simulation worth `value`, counted at node and every ancestor up to the root. */
  backup(node: TreeNode, value: number): void {
    for (let n: TreeNode | undefined = node; n; n = n.parent) {
      n.visits += 1;
      n.valueSum += value;
    }
  }

  /** Corrects a value backed up earlier along node's path, without counting another visit. */
  adjust(node: TreeNode, delta: number): void {
    for (let n: TreeNode | undefined = node; n; n = n.parent) n.valueSum += delta;
  }

  /** A failed expansion: backs up 0 and retires the node after maxFailures of them. */
  recordFailure(node: TreeNode, maxFailures: number): void {
    node.failures += 1;
    this.backup(node, 0);
    if (node.failures >= maxFailures) node.terminal = true;
  }

  /** Every node as plain data, for a checkpoint. */
  snapshot(): TreeSnapshot {
    return {
      nodes: this.nodes.map((n) => ({
        id: n.id,
        parent: n.parent ? n.parent.id : null,
        children: n.children.map((c) => c.id),
        ...(n.candidate ? { candidate: n.candidate } : {}),
        model: n.model,
        ...(n.expandedBy !== undefined ? { expandedBy: n.expandedBy } : {}),
        ...(n.predictedScore !== undefined ? { predictedScore: n.predictedScore } : {}),
        visits: n.visits,
        valueSum: n.valueSum,
        failures: n.failures,
        terminal: n.terminal,
        measured: { ...n.measured },
        lostRuns: n.lostRuns,
        removed: this.removed.has(n),
      })),
    };
  }

  /** The tree a snapshot describes; throws on one that does not hang together. */
  static restore(snapshot: TreeSnapshot): Tree {
    const data = snapshot.nodes;
    if (data.length === 0 || data[0].parent !== null || data[0].candidate) throw new Error('tree snapshot: no root');
    const tree = new Tree(data[0].model);
    const nodes: TreeNode[] = [tree.root];
    for (let i = 1; i < data.length; i++) {
      const d = data[i];
      if (d.id !== i) throw new Error(`tree snapshot: node ${i} has id ${d.id}`);
      if (d.parent === null || d.parent >= i || !d.candidate) throw new Error(`tree snapshot: node ${i} has no earlier parent or no schedule`);
      nodes.push(newNode(i, nodes[d.parent], d.candidate, d.model, d.expandedBy));
    }
    data.forEach((d, i) => {
      const n = nodes[i];
      for (const c of d.children) {
        if (nodes[c]?.parent !== n) throw new Error(`tree snapshot: node ${c} is not a child of ${i}`);
        n.children.push(nodes[c]);
      }
      n.predictedScore = d.predictedScore;
      n.visits = d.visits;
      n.valueSum = d.valueSum;
      n.failures = d.failures;
      n.terminal = d.terminal;
      n.measured = { ...d.measured };
      n.lostRuns = d.lostRuns ?? 0;
      if (i === 0) return;
      tree.nodes.push(n);
      if (d.removed) tree.removed.add(n);
      // A replaced node keeps its schedule known, as replace() does.
      tree.shashes.set((n.candidate as Candidate).shash, n);
    });
    return tree;
  }

  /** What a proposer may see of a node. */
  view(node: TreeNode): NodeView {
    if (!node.candidate) throw new Error('the root has no schedule to view');
    return {
      id: node.id,
      depth: node.depth,
      traceJson: node.candidate.traceJson,
      decisions: node.candidate.decisions,
      // Only scored nodes are acted on, and their ancestors were scored before them.
      predictedScore: node.predictedScore ?? 0,
      measuredLatency: node.measured.status === 'ok' ? node.measured.latencySec : undefined,
      model: node.model,
      expandedBy: node.expandedBy,
    };
  }
}

function newNode(
  id: number,
  parent: TreeNode | undefined,
  candidate: Candidate | undefined,
  model: string,
  expandedBy: string | undefined,
): TreeNode {
  return {
    id,
    parent,
    children: [],
    depth: parent ? parent.depth + 1 : 0,
    candidate,
    model,
    expandedBy,
    predictedScore: undefined,
    visits: 0,
    valueSum: 0,
    failures: 0,
    terminal: false,
    measured: { status: 'unmeasured' },
    lostRuns: 0,
  };
}
