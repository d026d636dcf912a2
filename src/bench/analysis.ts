// What a bench result says: per workload and strategy, the spread over seeds at each budget;
// the speedup of COLT over each MetaSchedule strategy at equal budget; how soon COLT reaches
// evolutionary search's final best; and how close each strategy gets to numpy/OpenBLAS. Pure.
import { bootstrapGeomeanRatio, type Interval, type WorkloadSamples } from './bootstrap';
import { curveAt } from './curve';
import { geomean, median } from './stats';
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
  /** On a geometric mean: its bootstrap interval over workloads and seeds (see bootstrap.ts). */
  interval?: Interval | null;
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

export interface GeomeanSampleEfficiency {
  colt: string;
  baseline: string;
  /** Geomean of maxTrials / coltTrials; null unless every workload reached the target. */
  value: number | null;
  reached: number;
  of: number;
  /** Geomean of the trials COLT needed; null unless every workload reached the target. */
  trials: number | null;
  /**
   * A lower bound on that geomean, counting a workload that did not reach the target as
   * maxTrials + 1 (it needed more than it had); equal to `trials` when all reached.
   */
  trialsAtLeast: number | null;
}

/** What a user waits for, per strategy, over its successful runs. */
export interface WallTimes {
  strategy: string;
  runs: number;
  /** Median of each run's wall time, start to end (s). */
  totalSec: number | null;
  /** Median time from the run's start until its first trial was recorded (s): the same clock for every strategy. */
  firstRecordSec: number | null;
  /** Median of the strategy's own start-up figure (COLT: bridge, task, untuned build; ms.tune_tir: imports, loading, build pool). */
  startupSec: number | null;
  /** Per budget, the median time until that many trials were recorded (s). */
  atBudgetSec: Record<number, number | null>;
  /**
   * The search's own share of the runs' wall time, summed over runs: neither build/measure nor
   * LLM waits (search + cost-model prediction − LLM wait), ÷ total. Null where the strategy does
   * not report its split (ms.tune_tir).
   */
  searchOverheadShare: number | null;
  /** The LLM waits, summed, ÷ total; null without an LLM. */
  llmWaitShare: number | null;
}

/** COLT's wall time ÷ the baseline's, geometric mean over workloads of per-workload medians: below 1, COLT is quicker. */
export interface WallRatio {
  colt: string;
  baseline: string;
  /** A budget, or 'firstRecord' for the start-up. */
  at: number | 'firstRecord';
  value: number | null;
}

export interface BenchAnalysis {
  budgets: number[];
  maxTrials: number;
  workloads: WorkloadAnalysis[];
  /** Geometric mean over workloads of each ratio, per (baseline, colt, budget), with its interval. */
  geomeanRatios: Ratio[];
  geomeanSampleEfficiency: GeomeanSampleEfficiency[];
  wall: WallTimes[];
  wallRatios: WallRatio[];
}

export const isColt = (strategy: string): boolean => strategy === 'colt' || strategy.startsWith('colt-');

/** `colt-no-llm-pretrained` → `colt-no-llm`; null for a strategy that is not a `-pretrained` one. */
export const withoutPretrained = (strategy: string): string | null =>
  isColt(strategy) && strategy.endsWith('-pretrained') ? strategy.slice(0, -'-pretrained'.length) : null;

export { geomean, median };

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

/** Each ok run's best at `budget`, as one source measured it (a wrong re-measured output left out). */
function seedValues(runs: BenchRun[], budget: number, source: Ratio['source']): number[] {
  return runs
    .filter((r) => r.status === 'ok')
    .map((r) => {
      if (source === 'tuning') return curveAt(r.curveUs, budget);
      const at = r.atBudget[String(budget)]?.remeasured;
      return at?.correct === false ? null : (remeasuredUs(at) ?? null);
    })
    .filter((v): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0);
}

function medianOrNull(xs: Array<number | null | undefined>): number | null {
  const vals = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return vals.length > 0 ? median(vals) : null;
}

/** Seconds from the run's start until `budget` trials were recorded; a run that stopped short: its end. */
function wallAt(run: BenchRun, budget: number): number | null {
  const seen = run.recordSeenSec;
  if (!seen || seen.length === 0) return null;
  return seen.length >= budget ? seen[budget - 1] : (run.wallSeconds.process ?? seen[seen.length - 1]);
}

function wallTimes(strategy: string, runs: BenchRun[], budgets: number[]): WallTimes {
  const total = (r: BenchRun) => r.wallSeconds.total ?? r.wallSeconds.process;
  const split = runs.filter((r) => r.wallSeconds.search !== undefined && r.wallSeconds.predict !== undefined && total(r) !== undefined);
  const sum = (xs: number[]) => xs.reduce((a, x) => a + x, 0);
  const totalOfSplit = sum(split.map((r) => total(r) as number));
  const withLlm = split.filter((r) => r.wallSeconds.llmWait !== undefined);
  return {
    strategy,
    runs: runs.length,
    totalSec: medianOrNull(runs.map(total)),
    firstRecordSec: medianOrNull(runs.map((r) => r.wallSeconds.firstRecord)),
    startupSec: medianOrNull(runs.map((r) => r.wallSeconds.startup)),
    atBudgetSec: Object.fromEntries(budgets.map((b) => [b, medianOrNull(runs.map((r) => wallAt(r, b)))])),
    searchOverheadShare:
      split.length > 0 && totalOfSplit > 0
        ? Math.max(0, sum(split.map((r) => r.wallSeconds.search + r.wallSeconds.predict - (r.wallSeconds.llmWait ?? 0)))) / totalOfSplit
        : null,
    llmWaitShare:
      withLlm.length > 0 && totalOfSplit > 0 ? sum(withLlm.map((r) => r.wallSeconds.llmWait)) / sum(withLlm.map((r) => total(r) as number)) : null,
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
    // Every COLT strategy against every baseline; and a `-pretrained` strategy also against the
    // same strategy without the file, the A/B that says whether the file pays.
    const pairsOf: Array<[StrategyStats, StrategyStats]> = bases.flatMap((base) => colts.map((colt): [StrategyStats, StrategyStats] => [base, colt]));
    for (const colt of colts) {
      const plain = withoutPretrained(colt.strategy);
      const base = plain === null ? undefined : colts.find((c) => c.strategy === plain);
      if (base) pairsOf.push([base, colt]);
    }
    for (const [base, colt] of pairsOf) {
      for (const b of budgets) ratios.push({ baseline: base.strategy, colt: colt.strategy, budget: b, ...ratioOf(base.byBudget[b], colt.byBudget[b]) });
      efficiency.push(sampleEfficiency(colt, base, budgets, maxTrials));
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
    const { baseline, colt, budget } = rs[0];
    const value = vals.length === rs.length && vals.length > 0 ? geomean(vals) : null;
    const samples: WorkloadSamples[] = workloads.map((w, i) => {
      const source = w.ratios.find((r) => r.baseline === baseline && r.colt === colt && r.budget === budget)?.source ?? 'tuning';
      const runsOf = (strategy: string) => bench.runs.filter((r) => r.workload === bench.workloads[i].spec && r.strategy === strategy);
      return { baseline: seedValues(runsOf(baseline), budget, source), colt: seedValues(runsOf(colt), budget, source) };
    });
    geomeanRatios.push({
      baseline,
      colt,
      budget,
      value,
      source: rs.every((r) => r.source === 'remeasured') ? 'remeasured' : 'tuning',
      interval: value === null ? null : bootstrapGeomeanRatio(samples),
    });
  }
  const sePairs = new Map<string, SampleEfficiency[]>();
  for (const w of workloads) {
    for (const e of w.sampleEfficiency) sePairs.set(`${e.baseline}\u0000${e.colt}`, [...(sePairs.get(`${e.baseline}\u0000${e.colt}`) ?? []), e]);
  }
  const geomeanSampleEfficiency = [...sePairs.values()].map((es): GeomeanSampleEfficiency => {
    const vals = es.map((e) => e.ratio).filter((v): v is number => v !== null);
    const all = vals.length === es.length && vals.length > 0;
    // A workload with no target (its baseline never succeeded) says nothing either way.
    const judged = es.filter((e) => e.targetUs !== null);
    return {
      colt: es[0].colt,
      baseline: es[0].baseline,
      // Where COLT never reached the target, there is no finite ratio to average.
      value: all ? geomean(vals) : null,
      reached: vals.length,
      of: es.length,
      trials: all ? geomean(es.map((e) => e.coltTrials as number)) : null,
      trialsAtLeast: judged.length > 0 ? geomean(judged.map((e) => e.coltTrials ?? maxTrials + 1)) : null,
    };
  });
  const wall = strategies.map((s) => wallTimes(s, bench.runs.filter((r) => r.strategy === s && r.status === 'ok'), budgets));
  const wallRatios: WallRatio[] = [];
  for (const baseline of strategies.filter((s) => !isColt(s))) {
    for (const colt of strategies.filter(isColt)) {
      for (const at of [...budgets, 'firstRecord' as const]) {
        const per = bench.workloads.map((w) => {
          const time = (strategy: string) =>
            medianOrNull(
              bench.runs
                .filter((r) => r.workload === w.spec && r.strategy === strategy && r.status === 'ok')
                .map((r) => (at === 'firstRecord' ? (r.wallSeconds.firstRecord ?? null) : wallAt(r, at))),
            );
          const c = time(colt);
          const b = time(baseline);
          return c !== null && b !== null && b > 0 && c > 0 ? c / b : null;
        });
        const vals = per.filter((v): v is number => v !== null);
        wallRatios.push({ colt, baseline, at, value: vals.length === per.length && vals.length > 0 ? geomean(vals) : null });
      }
    }
  }
  return { budgets, maxTrials, workloads, geomeanRatios, geomeanSampleEfficiency, wall, wallRatios };
}
