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
}

/** Mean backed-up value Q̄ of a node (0 when never visited). */
export function meanValue(node: TreeNode): number {
  return node.visits > 0 ? node.valueSum / node.visits : 0;
}

export class Tree {
  readonly root: TreeNode;
  private readonly nodes: TreeNode[] = [];
  private readonly shashes = new Set<string>();
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

  /** Adds a schedule under parent; undefined when an equal schedule (same shash) is already here. */
  addChild(
    parent: TreeNode,
    candidate: Candidate,
    model: string,
    expandedBy?: string,
  ): TreeNode | undefined {
    if (this.shashes.has(candidate.shash)) return undefined;
    this.shashes.add(candidate.shash);
    const node = newNode(this.nodes.length, parent, candidate, model, expandedBy);
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
    this.shashes.add(candidate.shash);
    const node = newNode(this.nodes.length, parent, candidate, model, expandedBy);
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
  };
}
