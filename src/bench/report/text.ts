// The few lines `colt bench` prints when it is done: the ratios a reader came for. Pure.
import { analyzeBench } from '../analysis';
import type { BenchResult } from '../result';
import { formatLatency } from './svg';

export function summaryLines(bench: BenchResult): string[] {
  const a = analyzeBench(bench);
  const lines: string[] = [];
  for (const w of a.workloads) {
    const parts = w.strategies.map((s) => {
      const best = s.byBudget[a.maxTrials]?.remeasured?.median ?? s.byBudget[a.maxTrials]?.tuning?.median;
      const blas = w.matmulLike && w.blasFraction[s.strategy] ? ` (${(w.blasFraction[s.strategy]! * 100).toFixed(0)}% of BLAS)` : '';
      return `${s.strategy} ${best !== undefined ? formatLatency(best) : '–'}${blas}`;
    });
    lines.push(`${w.spec}: best @${a.maxTrials} trials, median over seeds: ${parts.join(', ')}`);
  }
  for (const r of a.geomeanRatios) {
    if (r.value === null) continue;
    const i = r.interval;
    const interval = i ? ` (${Math.round(i.level * 100)}% interval ${i.low.toFixed(2)}x-${i.high.toFixed(2)}x)` : '';
    lines.push(`${r.baseline} / ${r.colt} @${r.budget} trials (geometric mean): ${r.value.toFixed(2)}x${interval}`);
  }
  for (const e of a.geomeanSampleEfficiency) {
    if (e.of < 2) continue;
    lines.push(
      e.trials !== null
        ? `${e.colt} reaches ${e.baseline}'s best-at-${a.maxTrials} after ${e.trials.toFixed(1)} trials (geometric mean over ${e.of} workloads)`
        : `${e.colt} reaches ${e.baseline}'s best-at-${a.maxTrials} on ${e.reached} of ${e.of} workloads` +
            `${e.trialsAtLeast !== null ? `; geometric mean at least ${e.trialsAtLeast.toFixed(1)} trials` : ''}`,
    );
  }
  const secs = (v: number | null) => (v !== null ? `${v.toFixed(0)} s` : '-');
  const walls = a.wall.filter((w) => w.runs > 0);
  if (walls.length > 0) {
    lines.push(
      `wall time per run (median): ${walls
        .map(
          (w) =>
            `${w.strategy} ${secs(w.totalSec)} (first trial recorded at ${secs(w.firstRecordSec)}` +
            `${w.searchOverheadShare !== null ? `, search overhead ${(w.searchOverheadShare * 100).toFixed(1)}%` : ''})`,
        )
        .join(', ')}`,
    );
  }
  for (const w of a.workloads) {
    // The sample efficiency the paper quotes is against evolutionary search; the page has the rest.
    const evo = w.sampleEfficiency.filter((e) => e.baseline === 'evolutionary');
    for (const e of evo.length > 0 ? evo : w.sampleEfficiency) {
      if (e.targetUs === null) continue;
      const rm = e.remeasured;
      const again = !rm
        ? ''
        : rm.coltBudget !== null
          ? `; re-measured, its best at ${rm.coltBudget} trials matches it`
          : '; re-measured, no budget matches it';
      lines.push(
        (e.coltTrials !== null
          ? `${w.spec}: ${e.colt} reaches ${e.baseline}'s best-at-${e.baselineTrials} after ${e.coltTrials} trials (${e.ratio!.toFixed(1)}x fewer)`
          : `${w.spec}: ${e.colt} does not reach ${e.baseline}'s best-at-${e.baselineTrials} within ${a.maxTrials} trials`) + again,
      );
    }
  }
  return lines;
}
