// What a search tells its caller: an event at each step while it runs, and its result when it
// ends, both as plain data.
import type { StopReason } from './budget';
import type { ApplyErrorCode, MeasureErrorCode } from './types';

export type SearchEvent =
  /** resumed: what a restored search took over (trials the database already holds, schedules in the tree). */
  | { type: 'start'; maxTrials: number; initialPopulation: number; resumed?: { trialsUsed: number; schedules: number } }
  /**
   * Schedules added as the root's children: the initial population, or a refill when too few
   * unmeasured schedules were left to fill a measurement batch. failures: samples asked for
   * that did not arrive or were already in the tree. seeded: of the count, warm-start seeds.
   */
  | { type: 'population'; count: number; failures?: number; refill: boolean; seeded?: number }
  /**
   * One expansion attempt by `model` on node parentId. On success nodeId is the new child and
   * nextModel its label; on failure code is the space's reason, duplicate marks a schedule
   * already in the tree, and emptyProposal a proposal with no transformation.
   */
  | {
      type: 'expand';
      nodeId?: number;
      parentId: number;
      model: string;
      ok: boolean;
      nextModel?: string;
      code?: ApplyErrorCode;
      duplicate?: boolean;
      emptyProposal?: boolean;
    }
  /**
   * One measurement batch has landed; round counts batches from 1. batch: its trials; lost:
   * schedules whose device was lost under them (not trials: they may be measured again).
   */
  | {
      type: 'measure';
      round: number;
      trialsUsed: number;
      maxTrials: number;
      bestLatencySec?: number;
      batch: Array<{ nodeId: number; shash: string; latencySec?: number; error?: MeasureErrorCode; device?: string }>;
      lost?: Array<{ nodeId: number; shash: string; device?: string; message: string }>;
    }
  /**
   * Course alteration: the streak-th consecutive small-model regression (child smallNodeId,
   * scored smallScore under parentId) was handed to largeModel. largeScore is its schedule's
   * score, absent when its proposal produced no new schedule (code / duplicate / emptyProposal
   * say why). When replaced, node nodeId (labelled nextModel) took the small child's place.
   */
  | {
      type: 'escalate';
      streak: number;
      smallModel: string;
      largeModel: string;
      parentId: number;
      smallNodeId: number;
      parentScore: number;
      smallScore: number;
      largeScore?: number;
      replaced: boolean;
      nodeId?: number;
      nextModel?: string;
      code?: ApplyErrorCode;
      duplicate?: boolean;
      emptyProposal?: boolean;
    }
  | { type: 'done'; reason: StopReason };

export interface ModelStats {
  /** Expansion attempts by this model, failed ones included. */
  expansions: number;
  /** Attempts that produced no new schedule. */
  failures: number;
  /** Children the cost model scored above their parent. */
  improved: number;
}

export interface MeasurementRecord {
  nodeId: number;
  shash: string;
  traceJson: string;
  latencySec?: number;
  error?: string;
  /** The RPC device that ran it (host:port). */
  device?: string;
}

export interface SearchResult {
  stopReason: StopReason;
  trialsUsed: number;
  /** Measurement batches run. */
  rounds: number;
  best?: { nodeId: number; traceJson: string; shash: string; latencySec: number };
  timings: { searchSec: number; predictSec: number; measureSec: number; totalSec: number };
  /** Schedules in the tree. */
  nodes: number;
  /** Every trial, in measurement order. */
  measurements: MeasurementRecord[];
  perModel: Record<string, ModelStats>;
  /** Course alteration: corrections asked of the largest model, and how many replaced a child. */
  escalations: { asked: number; replaced: number };
}
