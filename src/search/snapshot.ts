// A search's state as plain data, and taking it over again. The database, not the snapshot, is
// the record of truth for what was measured: a checkpoint may be older than the last committed
// batch, or newer than what the database kept.
import type { MeasurementRecord, ModelStats } from './events';
import type { Tree, TreeNode, TreeSnapshot } from './tree';
import type { Candidate, CommittedTrial, Regression } from './types';

/** Everything a search needs to carry on where it was, as plain JSON data. */
export interface SearchSnapshot {
  version: 1;
  tree: TreeSnapshot;
  /** Whether the initial population was sampled. */
  populated: boolean;
  rounds: number;
  trialsUsed: number;
  measurements: MeasurementRecord[];
  perModel: Record<string, ModelStats>;
  recentExpanders: string[];
  streak: number;
  regressions: Regression[];
  escalations: { asked: number; replaced: number };
  rng: { propose: number; apply: number; sample: number; measure: number };
  /** Proposers' own state, by model label, for those that keep one. */
  proposers: Record<string, unknown>;
}

/** The trials a restored search starts from. */
export interface Reconciled {
  /** Every trial the database holds, in the order the snapshot saw them, then database order. */
  measurements: MeasurementRecord[];
  best: TreeNode | undefined;
  bestLatency: number;
  /** Nodes added for committed trials the snapshot did not know: they still need a score. */
  added: TreeNode[];
}

/**
 * Brings `tree` (restored from `snapshot`, or new) in line with the database's trials: every
 * committed trial gets its node and result, and a schedule the snapshot saw measured or out
 * but the database does not hold becomes unmeasured again.
 */
export function reconcile(
  tree: Tree,
  snapshot: SearchSnapshot | undefined,
  committed: CommittedTrial[],
  defaultModel: string,
): Reconciled {
  const inDb = new Map<string, CommittedTrial>();
  for (const trial of committed) if (trial.candidate) inDb.set(trial.candidate.shash, trial);
  for (const node of tree.schedules()) {
    const m = node.measured;
    const retired = m.status === 'error' && m.code === 'DEVICE_LOST';
    if (!inDb.has((node.candidate as Candidate).shash) && m.status !== 'unmeasured' && !retired) {
      // Out when the run stopped, or measured but never committed: measure it again.
      node.measured = { status: 'unmeasured' };
    }
  }

  const added: TreeNode[] = [];
  const wasOk = new Set<TreeNode>();
  for (const [shash, trial] of inDb) {
    let node = tree.byShash(shash);
    if (!node) {
      node = tree.addChild(tree.root, trial.candidate as Candidate, defaultModel) as TreeNode;
      added.push(node);
    }
    if (node.measured.status === 'ok') wasOk.add(node);
    const latency = trial.latencySec;
    if (latency !== undefined && Number.isFinite(latency) && latency > 0) {
      node.measured = { status: 'ok', latencySec: latency };
    } else if (node.measured.status !== 'error') {
      // The database keeps no reason for a failure.
      node.measured = { status: 'error', code: 'RUN_FAILED' };
    }
  }

  const recordOf = (node: TreeNode, device?: string): MeasurementRecord => {
    const c = node.candidate as Candidate;
    const m = node.measured;
    return {
      nodeId: node.id,
      shash: c.shash,
      traceJson: c.traceJson,
      ...(m.status === 'ok' ? { latencySec: m.latencySec } : { error: m.status === 'error' ? m.code : 'RUN_FAILED' }),
      ...(device ? { device } : {}),
    };
  };
  const measurements: MeasurementRecord[] = [];
  const listed = new Set<string>();
  for (const m of snapshot?.measurements ?? []) {
    const node = inDb.has(m.shash) ? tree.byShash(m.shash) : undefined;
    if (!node || listed.has(m.shash)) continue;
    listed.add(m.shash);
    measurements.push(recordOf(node, m.device));
  }
  for (const shash of inDb.keys()) {
    if (listed.has(shash)) continue;
    listed.add(shash);
    measurements.push(recordOf(tree.byShash(shash) as TreeNode));
  }
  let best: TreeNode | undefined;
  let bestLatency = Infinity;
  for (const m of measurements) {
    if (m.latencySec !== undefined && m.latencySec < bestLatency) {
      bestLatency = m.latencySec;
      best = tree.byShash(m.shash);
    }
  }
  // Measured speedups the snapshot had not backed up yet (a batch that landed after it).
  for (const m of measurements) {
    const node = tree.byShash(m.shash) as TreeNode;
    if (m.latencySec !== undefined && !wasOk.has(node)) tree.backup(node, bestLatency / m.latencySec);
  }
  return { measurements, best, bestLatency, added };
}
