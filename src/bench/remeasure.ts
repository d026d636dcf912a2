// The final re-measurement: each run's best schedule within each budget, all applied with stock
// compile_tir and timed in one Python process, in rounds, beside numpy/OpenBLAS on the same
// operation (scripts/bench/remeasure.py). Tuning-time numbers come from separate processes
// minutes apart; these are comparable with each other. Only here, OpenBLAS picks its own kernels
// for this CPU: "% of BLAS" against BLAS held to older kernels would flatter us.
import fs from 'node:fs';
import path from 'node:path';

import { describeFailure, lastJsonLine, runChild } from './child';
import { bestRecordWithin } from './curve';
import type { BenchResult, Remeasured } from './result';
import { repoTools } from './strategies';

export interface RemeasureSettings {
  rounds: number;
  repeat: number;
  minRepeatMs: number;
}

interface PlanKernel {
  key: string;
  workDir: string;
  record: number;
}

interface Answer {
  workloads: Array<{
    workload: string;
    task: string;
    flop?: number | null;
    kernels: Record<string, Remeasured>;
    blas: Remeasured | null;
  }>;
  env?: Record<string, string | null>;
  /** threadpoolctl's threadpool_info(): which BLAS library and kernel (architecture) ran. */
  blasRuntime?: Array<Record<string, unknown>>;
}

/** What holds OpenBLAS to older kernels than this CPU's: unset together, in the re-measurement only. */
export const BLAS_KERNEL_VARS = ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'] as const;

/** The re-measurement's environment: the bench's, less BLAS_KERNEL_VARS. Pure. */
export function remeasureEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const k of BLAS_KERNEL_VARS) delete out[k];
  return out;
}

/** One kernel per distinct (run, record): a run whose best did not move between budgets is timed once. */
export function planKernels(bench: BenchResult, workload: string, budgets: number[]): { kernels: PlanKernel[]; keyOf: Map<string, string> } {
  const kernels: PlanKernel[] = [];
  const keyOf = new Map<string, string>();
  for (const run of bench.runs) {
    if (run.workload !== workload || run.status !== 'ok') continue;
    for (const b of budgets) {
      const record = bestRecordWithin(run.trialLatenciesUs, b);
      if (record === null) continue;
      const key = `${run.id}#${record}`;
      if (!kernels.some((k) => k.key === key)) kernels.push({ key, workDir: run.workDir, record });
      keyOf.set(`${run.id}@${b}`, key);
    }
  }
  return { kernels, keyOf };
}

/** Re-measures in place: fills each run's atBudget[b].remeasured and each workload's blas. */
export async function remeasure(
  bench: BenchResult,
  settings: RemeasureSettings,
  io: { repoRoot: string; outDir: string; env: NodeJS.ProcessEnv; onProgress?: (line: string) => void },
): Promise<void> {
  const budgets = bench.settings.budgets;
  const plans = bench.workloads.map((w) => ({ spec: w.spec, ...planKernels(bench, w.spec, budgets) }));
  const planFile = path.join(io.outDir, 'remeasure-plan.json');
  fs.writeFileSync(
    planFile,
    `${JSON.stringify(
      {
        target: bench.settings.target,
        settings,
        workloads: plans.map((p) => ({ workload: p.spec, kernels: p.kernels.map((k) => ({ ...k, workDir: path.resolve(io.outDir, k.workDir) })) })),
      },
      null,
      1,
    )}\n`,
  );
  const { python, scripts } = repoTools(io.repoRoot);
  const result = await runChild(python, [path.join(scripts, 'remeasure.py'), planFile], {
    cwd: io.repoRoot,
    env: remeasureEnv(io.env),
    captureStdout: true,
    onStderrLine: (line) => {
      if (line.startsWith('remeasured ')) io.onProgress?.(line);
    },
  });
  const answer = lastJsonLine<Answer>(result.stdout);
  if (result.code !== 0 || !answer) throw new Error(describeFailure('the final re-measurement', result));

  for (const p of plans) {
    const got = answer.workloads.find((w) => w.workload === p.spec);
    const workload = bench.workloads.find((w) => w.spec === p.spec);
    if (!got || !workload) continue;
    workload.task = got.task;
    workload.flop = got.flop ?? workload.flop;
    workload.blas = got.blas;
    for (const run of bench.runs) {
      if (run.workload !== p.spec) continue;
      for (const b of budgets) {
        const key = p.keyOf.get(`${run.id}@${b}`);
        const at = run.atBudget[String(b)];
        if (at && key) at.remeasured = got.kernels[key] ?? null;
      }
    }
  }
  bench.settings.remeasureEnv = answer.env ?? {};
  bench.settings.blasRuntime = answer.blasRuntime ?? [];
}
