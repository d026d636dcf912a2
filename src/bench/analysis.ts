// What a bench result says: per workload and strategy, the spread over seeds at each budget;
// the speedup of COLT over each MetaSchedule strategy at equal budget; how soon COLT reaches
// evolutionary search's final best; and how close each strategy gets to numpy/OpenBLAS. Pure.
import { curveAt } from './curve';
import { remeasuredUs, type BenchResult, type BenchRun } from './result';

export interface Spread {
  median: number;
  min: number;
  max: number;
  /** Seeds that contributed. */
  n: number;
}

export interface BudgetStats {
  /** The best latency found within the budget, as measured while tuning (µs). */
  tuning: Spread | null;
  /** The same schedules re-measured at the end under one common setting (µs). */
  remeasured: Spread | null;
  /** Re-measured schedules whose output differed from the untuned build's. */
  incorrect: number;
}

export interface StrategyStats {
  strategy: string;
  runs: number;
  failed: number;
  byBudget: Record<number, BudgetStats>;
  /** Per trial, over seeds: median (null until every seed has a success), min and max. */
  curve: { median: Array<number | null>; min: Array<number | null>; max: Array<number | null> };
  /** Wall seconds per run, median over seeds. */
  wallSeconds: number | null;
  /** LLM use per run, medians over seeds: in total and per model. */
  llm: (LlmUse & { perModel: Record<string, LlmUse> }) | null;
}

export interface LlmUse {
  calls: number;
  tokens: number;
  costUsd: number;
}

export interface Ratio {
  baseline: string;
  colt: string;
  budget: number;
  /** baseline's median best / COLT's median best: above 1 means COLT found faster code. */
  value: number | null;
  source: 'remeasured' | 'tuning';
}

export interface SampleEfficiency {
  colt: string;
  baseline: string;
  /** The baseline's median best after this many trials (its largest budget)... */
  baselineTrials: number;
  targetUs: number | null;
  /** ...which COLT's median curve first reaches after this many trials (null: not reached). */
  coltTrials: number | null;
  /** baselineTrials / coltTrials. */
  ratio: number | null;
  /**
   * The same question on the re-measured schedules, at the bench's budgets: the smallest budget
   * whose median best is at least as fast as the baseline's at its largest (null: none is).
   */
  remeasured: { targetUs: number; coltBudget: number | null } | null;
}

export interface WorkloadAnalysis {
  spec: string;
  task: string | null;
  flop: number | null;
  matmulLike: boolean;
  blasUs: number | null;
  strategies: StrategyStats[];
  ratios: Ratio[];
  sampleEfficiency: SampleEfficiency[];
  /** Per strategy: numpy/OpenBLAS time / the strategy's re-measured best at the largest budget. */
  blasFraction: Record<string, number | null>;
}

export interface BenchAnalysis {
  budgets: number[];
  maxTrials: number;
  workloads: WorkloadAnalysis[];
  /** Geometric mean over workloads of each ratio, per (baseline, colt, budget). */
  geomeanRatios: Ratio[];
  geomeanSampleEfficiency: Array<{ colt: string; baseline: string; value: number | null; reached: number; of: number }>;
}

export const isColt = (strategy: string): boolean => strategy === 'colt' || strategy.startsWith('colt-');

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function geomean(xs: readonly number[]): number {
  return Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);
}

function spread(xs: Array<number | null | undefined>): Spread | null {
  const vals = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  if (vals.length === 0) return null;
  return { median: median(vals), min: Math.min(...vals), max: Math.max(...vals), n: vals.length };
}

function strategyStats(strategy: string, runs: BenchRun[], budgets: number[], maxTrials: number): StrategyStats {
  const ok = runs.filter((r) => r.status === 'ok');
  const byBudget: Record<number, BudgetStats> = {};
  for (const b of budgets) {
    const at = ok.map((r) => r.atBudget[String(b)]);
    byBudget[b] = {
      tuning: spread(ok.map((r) => curveAt(r.curveUs, b))),
      remeasured: spread(at.map((a) => (a?.remeasured?.correct === false ? undefined : remeasuredUs(a?.remeasured)))),
      incorrect: at.filter((a) => a?.remeasured?.correct === false).length,
    };
  }
  const curve: StrategyStats['curve'] = { median: [], min: [], max: [] };
  for (let t = 1; t <= maxTrials; t++) {
    const vals = ok.map((r) => curveAt(r.curveUs, t));
    const s = spread(vals);
    const complete = vals.every((v) => v !== null) && s !== null;
    curve.median.push(complete ? s.median : null);
    curve.min.push(s?.min ?? null);
    curve.max.push(s?.max ?? null);
  }
  const withLlm = ok.filter((r) => r.llm);
  const use = (xs: Array<{ calls: number; promptTokens: number; completionTokens: number; costUsd: number }>): LlmUse => ({
    calls: median(xs.map((x) => x.calls)),
    tokens: median(xs.map((x) => x.promptTokens + x.completionTokens)),
    costUsd: median(xs.map((x) => x.costUsd)),
  });
  const models = [...new Set(withLlm.flatMap((r) => Object.keys(r.llm!.perModel)))];
  return {
    strategy,
    runs: runs.length,
    failed: runs.filter((r) => r.status === 'failed').length,
    byBudget,
    curve,
    wallSeconds: spread(ok.map((r) => r.wallSeconds.total))?.median ?? null,
    llm:
      withLlm.length === 0
        ? null
        : {
            ...use(withLlm.map((r) => r.llm!.totals)),
            perModel: Object.fromEntries(
              models.map((m) => [m, use(withLlm.map((r) => r.llm!.perModel[m] ?? { calls: 0, promptTokens: 0, completionTokens: 0, costUsd: 0 }))]),
            ),
          },
  };
}

function ratioOf(base: BudgetStats | undefined, colt: BudgetStats | undefined): Pick<Ratio, 'value' | 'source'> {
  if (base?.remeasured && colt?.remeasured) return { value: base.remeasured.median / colt.remeasured.median, source: 'remeasured' };
  if (base?.tuning && colt?.tuning) return { value: base.tuning.median / colt.tuning.median, source: 'tuning' };
  return { value: null, source: 'tuning' };
}

function sampleEfficiency(colt: StrategyStats, base: StrategyStats, budgets: number[], maxTrials: number): SampleEfficiency {
  const targetUs = base.byBudget[maxTrials]?.tuning?.median ?? null;
  let coltTrials: number | null = null;
  if (targetUs !== null) {
    const i = colt.curve.median.findIndex((v) => v !== null && v <= targetUs);
    coltTrials = i >= 0 ? i + 1 : null;
  }
  const remeasuredTarget = base.byBudget[maxTrials]?.remeasured?.median;
  const remeasured =
    remeasuredTarget === undefined
      ? null
      : {
          targetUs: remeasuredTarget,
          coltBudget: budgets.find((b) => (colt.byBudget[b]?.remeasured?.median ?? Infinity) <= remeasuredTarget) ?? null,
        };
  return {
    colt: colt.strategy,
    baseline: base.strategy,
    baselineTrials: maxTrials,
    targetUs,
    coltTrials,
    ratio: coltTrials ? maxTrials / coltTrials : null,
    remeasured,
  };
}

export function analyzeBench(bench: BenchResult): BenchAnalysis {
  const budgets = [...bench.settings.budgets].sort((a, b) => a - b);
  const maxTrials = budgets[budgets.length - 1];
  const strategies = bench.settings.strategies;
  const workloads: WorkloadAnalysis[] = bench.workloads.map((w) => {
    const stats = strategies.map((s) =>
      strategyStats(
        s,
        bench.runs.filter((r) => r.workload === w.spec && r.strategy === s),
        budgets,
        maxTrials,
      ),
    );
    const colts = stats.filter((s) => isColt(s.strategy));
    const bases = stats.filter((s) => !isColt(s.strategy));
    const ratios: Ratio[] = [];
    const efficiency: SampleEfficiency[] = [];
    for (const base of bases) {
      for (const colt of colts) {
        for (const b of budgets) ratios.push({ baseline: base.strategy, colt: colt.strategy, budget: b, ...ratioOf(base.byBudget[b], colt.byBudget[b]) });
        efficiency.push(sampleEfficiency(colt, base, budgets, maxTrials));
      }
    }
    const blasUs = remeasuredUs(w.blas) ?? null;
    const blasFraction: Record<string, number | null> = {};
    for (const s of stats) {
      const best = s.byBudget[maxTrials]?.remeasured?.median;
      blasFraction[s.strategy] = blasUs !== null && best ? blasUs / best : null;
    }
    return {
      spec: w.spec,
      task: w.task,
      flop: w.flop,
      matmulLike: w.matmulLike,
      blasUs,
      strategies: stats,
      ratios,
      sampleEfficiency: efficiency,
      blasFraction,
    };
  });

  const geomeanRatios: Ratio[] = [];
  const pairs = new Map<string, Ratio[]>();
  for (const w of workloads) {
    for (const r of w.ratios) {
      const key = `${r.baseline}\u0000${r.colt}\u0000${r.budget}`;
      pairs.set(key, [...(pairs.get(key) ?? []), r]);
    }
  }
  for (const rs of pairs.values()) {
    const vals = rs.map((r) => r.value).filter((v): v is number => v !== null && v > 0);
    geomeanRatios.push({
      baseline: rs[0].baseline,
      colt: rs[0].colt,
      budget: rs[0].budget,
      value: vals.length === rs.length && vals.length > 0 ? geomean(vals) : null,
      source: rs.every((r) => r.source === 'remeasured') ? 'remeasured' : 'tuning',
    });
  }
  const sePairs = new Map<string, SampleEfficiency[]>();
  for (const w of workloads) {
    for (const e of w.sampleEfficiency) sePairs.set(`${e.baseline}\u0000${e.colt}`, [...(sePairs.get(`${e.baseline}\u0000${e.colt}`) ?? []), e]);
  }
  const geomeanSampleEfficiency = [...sePairs.values()].map((es) => {
    const vals = es.map((e) => e.ratio).filter((v): v is number => v !== null);
    return {
      colt: es[0].colt,
      baseline: es[0].baseline,
      // Where COLT never reached the target, there is no finite ratio to average.
      value: vals.length === es.length && vals.length > 0 ? geomean(vals) : null,
      reached: vals.length,
      of: es.length,
    };
  });
  return { budgets, maxTrials, workloads, geomeanRatios, geomeanSampleEfficiency };
}
