// A bench result built in memory, for the pure analysis and report tests.
import { bestCurve, bestRecordWithin, curveAt, type BenchResult, type BenchRun } from '../../src/bench';

export function run(
  workload: string,
  strategy: string,
  seed: number,
  trials: Array<number | null>,
  remeasuredUs: Record<number, number>,
  budgets: number[],
): BenchRun {
  const curve = bestCurve(trials);
  return {
    id: `${workload}/${strategy}-s${seed}`,
    workload,
    strategy,
    seed,
    order: 0,
    workDir: `runs/${workload}/${strategy}-s${seed}`,
    status: 'ok',
    trials: trials.length,
    trialLatenciesUs: trials,
    curveUs: curve,
    wallSeconds: { total: 10, process: 11 },
    atBudget: Object.fromEntries(
      budgets.map((b) => [
        String(b),
        {
          record: bestRecordWithin(trials, b),
          tuningUs: curveAt(curve, b),
          remeasured: remeasuredUs[b] !== undefined ? { minUs: remeasuredUs[b], medianUs: remeasuredUs[b] * 1.1, samples: 15, correct: true } : null,
        },
      ]),
    ),
    llm: null,
  };
}

export function benchOf(runs: BenchRun[], budgets: number[], strategies: string[], workloads: string[], blasUs?: number): BenchResult {
  return {
    version: 1,
    status: 'done',
    startedAt: '2026-01-02T03:04:05.000Z',
    finishedAt: '2026-01-02T04:04:05.000Z',
    command: 'colt bench --workloads GMM:1',
    machine: { cpuModel: 'Test CPU', logicalCores: 2, totalMemGiB: 8, platform: 'linux', node: 'v20' },
    settings: {
      target: { kind: 'llvm', 'num-cores': 2 },
      numCores: 2,
      budgets,
      seeds: [0, 1, 2],
      strategies,
      perIter: 16,
      measure: { number: 3, repeat: 1, minRepeatMs: 40, timeoutSec: 30 },
      costModel: 'xgb',
      remeasure: { rounds: 3, repeat: 5, minRepeatMs: 100 },
    },
    workloads: workloads.map((spec) => ({
      spec,
      task: spec.toLowerCase().replace(':', '_'),
      flop: 16777216,
      matmulLike: blasUs !== undefined,
      blas: blasUs !== undefined ? { minUs: blasUs, medianUs: blasUs, samples: 15 } : null,
    })),
    runs,
    notes: ['a note'],
  };
}
