// The suite's targets (issue 14), checked on a bench result: each a PASS or FAIL line with the
// number behind it. A benchmark's verdict, printed by `colt report DIR --targets`; no test
// asserts them. Pure.
import { analyzeBench, type BenchAnalysis } from './analysis';
import type { BenchResult } from './result';

export interface TargetCheck {
  pass: boolean;
  /** What was required, e.g. `evolutionary / colt >= 1.3x at 32 trials`. */
  target: string;
  /** The number found, e.g. `1.42x (90% interval 1.12-1.80)`. */
  got: string;
}

export const TARGETS = {
  ratio: 1.3,
  ratioBudgets: [32, 64],
  behindAt: 64,
  /** A workload may be at most this much slower than the baseline at `behindAt`. */
  maxBehind: 0.1,
  reachWithin: 16,
  startupFactor: 2,
  maxOverhead: 0.05,
  blasWorkload: 'GMM:3',
  blasFraction: 0.9,
} as const;

const BASELINE = 'evolutionary';

const fx = (v: number, d = 2): string => `${v.toFixed(d)}x`;

function checksFor(colt: string, a: BenchAnalysis): TargetCheck[] {
  const out: TargetCheck[] = [];
  const vs = `${BASELINE} / ${colt}`;
  for (const budget of TARGETS.ratioBudgets) {
    const target = `${vs} >= ${TARGETS.ratio}x at ${budget} trials (geomean), its interval's lower end above 1.0`;
    const r = a.geomeanRatios.find((x) => x.baseline === BASELINE && x.colt === colt && x.budget === budget);
    if (!r || r.value === null) {
      out.push({ pass: false, target, got: r ? 'no ratio (a workload had no result on one side)' : `not measured (no ${budget}-trial budget)` });
      continue;
    }
    const i = r.interval;
    const got = `${fx(r.value)}${i ? ` (${Math.round(i.level * 100)}% interval ${fx(i.low)}-${fx(i.high)}, ${i.workloads} workloads)` : ''}`;
    out.push({ pass: r.value >= TARGETS.ratio && (i?.low ?? 0) > 1.0, target, got });
  }

  const behindAt = a.budgets.includes(TARGETS.behindAt) ? TARGETS.behindAt : a.maxTrials;
  const per = a.workloads
    .map((w) => ({ spec: w.spec, value: w.ratios.find((r) => r.baseline === BASELINE && r.colt === colt && r.budget === behindAt)?.value ?? null }))
    .filter((x): x is { spec: string; value: number } => x.value !== null);
  const worst = per.reduce<{ spec: string; value: number } | null>((m, x) => (m === null || x.value < m.value ? x : m), null);
  out.push({
    pass: worst !== null && per.length === a.workloads.length && worst.value >= 1 - TARGETS.maxBehind,
    target: `no workload more than ${TARGETS.maxBehind * 100}% behind ${BASELINE} at ${behindAt} trials (ratio >= ${1 - TARGETS.maxBehind})`,
    got: worst
      ? `worst ${worst.spec} ${fx(worst.value)}; behind on ${per.filter((x) => x.value < 1 - TARGETS.maxBehind).length} of ${per.length}` +
        `${per.length < a.workloads.length ? ` (${a.workloads.length - per.length} without a ratio)` : ''}`
      : 'no ratio',
  });

  const se = a.geomeanSampleEfficiency.find((e) => e.baseline === BASELINE && e.colt === colt);
  out.push({
    pass: se?.trials != null && se.trials <= TARGETS.reachWithin,
    target: `${BASELINE}'s ${a.maxTrials}-trial best reached within ${TARGETS.reachWithin} trials (geomean)`,
    got: !se
      ? 'not measured'
      : se.trials !== null
        ? `${se.trials.toFixed(1)} trials (all ${se.of} workloads reached it)`
        : `not reached on ${se.of - se.reached} of ${se.of} workloads; geomean at least ${se.trialsAtLeast?.toFixed(1) ?? '-'} trials`,
  });

  const longer = a.budgets.map((b) => ({ b, r: a.wallRatios.find((x) => x.baseline === BASELINE && x.colt === colt && x.at === b)?.value ?? null }));
  out.push({
    pass: longer.every((x) => x.r !== null && x.r <= 1),
    target: `${colt}'s run no longer than ${BASELINE}'s at the same budget (wall time to each budget, geomean ${colt} / ${BASELINE})`,
    got: longer.map((x) => `${x.b}: ${x.r !== null ? fx(x.r) : '-'}`).join(', '),
  });

  const startup = a.wallRatios.find((x) => x.baseline === BASELINE && x.colt === colt && x.at === 'firstRecord')?.value ?? null;
  const wallOf = (s: string) => a.wall.find((w) => w.strategy === s);
  const secs = (v: number | null | undefined) => (v != null ? `${v.toFixed(0)} s` : '-');
  out.push({
    pass: startup !== null && startup <= TARGETS.startupFactor,
    target: `start-up (until the first trial is recorded) within ${TARGETS.startupFactor}x of ms.tune_tir's`,
    got: `${startup !== null ? fx(startup) : '-'} (medians ${secs(wallOf(colt)?.firstRecordSec)} vs ${secs(wallOf(BASELINE)?.firstRecordSec)})`,
  });

  const overhead = wallOf(colt)?.searchOverheadShare ?? null;
  out.push({
    pass: overhead !== null && overhead <= TARGETS.maxOverhead,
    target: `search overhead (neither LLM nor build nor measure) <= ${TARGETS.maxOverhead * 100}% of wall time`,
    got: overhead !== null ? `${(overhead * 100).toFixed(1)}%` : 'not reported',
  });

  const gmm = a.workloads.find((w) => w.spec === TARGETS.blasWorkload);
  if (gmm) {
    const f = gmm.blasFraction[colt];
    out.push({
      pass: f != null && f >= TARGETS.blasFraction,
      target: `${TARGETS.blasWorkload} at ${a.maxTrials} trials >= ${TARGETS.blasFraction * 100}% of numpy/OpenBLAS's speed`,
      got: f != null ? `${(f * 100).toFixed(0)}%` : 'not measured',
    });
  }
  return out;
}

/** Every target for every COLT strategy in the bench that ran against evolutionary search. */
export function checkTargets(bench: BenchResult): Array<{ colt: string; checks: TargetCheck[] }> {
  const a = analyzeBench(bench);
  const colts = bench.settings.strategies.filter((s) => s === 'colt' || s.startsWith('colt-'));
  if (!bench.settings.strategies.includes(BASELINE)) return [];
  return colts.map((colt) => ({ colt, checks: checksFor(colt, a) }));
}

export function targetLines(bench: BenchResult): string[] {
  const all = checkTargets(bench);
  if (all.length === 0) return [`no targets to check: the bench ran no COLT strategy against ${BASELINE}`];
  return all.flatMap(({ colt, checks }) => [
    `Targets for ${colt}:`,
    ...checks.map((c) => `${c.pass ? 'PASS' : 'FAIL'}  ${c.target}: ${c.got}`),
  ]);
}
