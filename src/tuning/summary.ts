// colt-summary.json: what a run found and what it cost, for people and for scripts. Written
// atomically, so a reader never sees half a file.
import fs from 'node:fs';
import path from 'node:path';

import type { LlmSummary } from '../llm';
import type { ModelStats, SearchResult, StopReason } from '../search';
import type { TargetSpec } from '../options/target';

export const SUMMARY_FILE = 'colt-summary.json';

export interface TuneSummary {
  workload: string;
  taskName: string;
  /** The target as the bridge (TVM) normalised it. */
  target: TargetSpec;
  /** Trials used. */
  trials: number;
  maxTrials: number;
  bestLatencyUs: number | null;
  gflops: number | null;
  /** The workload built with no schedule applied. */
  untunedLatencyUs: number | null;
  speedupOverUntuned: number | null;
  flop: number;
  stopReason: StopReason;
  seed: number;
  costModel: string;
  /** The cost model trained beforehand that scored beside costModel; null: none. */
  costModelFile: string | null;
  trialsPerIter: number;
  workDir: string;
  bestShash: string | null;
  rounds: number;
  nodes: number;
  /** startup: starting the bridge, opening the task and measuring the untuned build. */
  wallSeconds: { search: number; predict: number; buildMeasure: number; startup: number; total: number };
  /** Expansions per proposer, as the search counted them. */
  perModel: Record<string, ModelStats>;
  /** Per-model LLM calls, errors, hit rate, tokens and money; null without --models. */
  llm: LlmSummary | null;
  /** Course alteration: corrections asked of the largest model, and children it replaced. */
  escalations: SearchResult['escalations'];
  measure: { number: number; repeat: number; minRepeatMs: number; timeoutSec: number };
  /** Trials per RPC device (host:port); null when the trials ran on this machine. */
  devices: Record<string, number> | null;
  /** Times the TVM bridge died and was started again during the run. */
  bridgeRestarts: number;
  measuredAt: string;
}

export interface SummaryInput {
  workload: string;
  taskName: string;
  target: TargetSpec;
  flop: number;
  maxTrials: number;
  untunedLatencyUs: number | null;
  seed: number;
  costModel: string;
  costModelFile?: string;
  trialsPerIter: number;
  workDir: string;
  measure: TuneSummary['measure'];
  result: SearchResult;
  llm: LlmSummary | null;
  wallSec: number;
  bridgeRestarts?: number;
  now: Date;
}

const round = (x: number, digits = 6): number => Number(x.toFixed(digits));

export function buildSummary(input: SummaryInput): TuneSummary {
  const { result } = input;
  const bestSec = result.best?.latencySec;
  const bestLatencyUs = bestSec !== undefined ? bestSec * 1e6 : null;
  return {
    workload: input.workload,
    taskName: input.taskName,
    target: input.target,
    trials: result.trialsUsed,
    maxTrials: input.maxTrials,
    bestLatencyUs,
    gflops: bestSec !== undefined && bestSec > 0 ? input.flop / bestSec / 1e9 : null,
    untunedLatencyUs: input.untunedLatencyUs,
    speedupOverUntuned:
      bestLatencyUs !== null && input.untunedLatencyUs !== null ? input.untunedLatencyUs / bestLatencyUs : null,
    flop: input.flop,
    stopReason: result.stopReason,
    seed: input.seed,
    costModel: input.costModel,
    costModelFile: input.costModelFile ?? null,
    trialsPerIter: input.trialsPerIter,
    workDir: input.workDir,
    bestShash: result.best?.shash ?? null,
    rounds: result.rounds,
    nodes: result.nodes,
    wallSeconds: {
      search: round(result.timings.searchSec, 3),
      predict: round(result.timings.predictSec, 3),
      buildMeasure: round(result.timings.measureSec, 3),
      startup: round(Math.max(0, input.wallSec - result.timings.totalSec), 3),
      total: round(input.wallSec, 3),
    },
    perModel: result.perModel,
    llm: input.llm,
    escalations: result.escalations,
    measure: input.measure,
    devices: devicesOf(result),
    bridgeRestarts: input.bridgeRestarts ?? 0,
    measuredAt: input.now.toISOString(),
  };
}

function devicesOf(result: SearchResult): Record<string, number> | null {
  const counts: Record<string, number> = {};
  for (const m of result.measurements) if (m.device) counts[m.device] = (counts[m.device] ?? 0) + 1;
  return Object.keys(counts).length > 0 ? counts : null;
}

/** Writes the summary beside the database (tmp file + rename); returns its path. */
export function writeSummary(workDir: string, summary: TuneSummary): string {
  const file = path.join(workDir, SUMMARY_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, `${JSON.stringify(summary, null, 2)}\n`);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  return file;
}
