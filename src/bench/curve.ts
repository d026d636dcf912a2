// A run's tuning curve: the best latency after each trial, read from its MetaSchedule
// JSONDatabase, whose record lines are in commit order whichever strategy wrote them. Pure.

/** MetaSchedule records a failed trial with this run time (1e10 s); anything near it failed. */
const FAILED_SEC = 1e9;

/** One trial: its mean run time in µs, or null when it failed to build or run. */
export type TrialLatency = number | null;

/**
 * The latencies of a JSONDatabase's record lines, in order. A line is
 * `[workload_index, [trace, run_secs, target, args_info]]`; blank lines are skipped.
 */
export function trialsFromRecords(text: string): TrialLatency[] {
  const out: TrialLatency[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const record = JSON.parse(line) as [number, [unknown, unknown, ...unknown[]]];
    const runSecs = Array.isArray(record?.[1]) ? record[1][1] : undefined;
    const secs = Array.isArray(runSecs) ? runSecs.map(Number).filter((s) => Number.isFinite(s)) : [];
    const mean = secs.length > 0 ? secs.reduce((a, b) => a + b, 0) / secs.length : NaN;
    out.push(Number.isFinite(mean) && mean > 0 && mean < FAILED_SEC ? mean * 1e6 : null);
  }
  return out;
}

/** Best latency after each trial (null until the first success): monotone non-increasing. */
export function bestCurve(trials: readonly TrialLatency[]): Array<number | null> {
  let best: number | null = null;
  return trials.map((t) => {
    if (t !== null && (best === null || t < best)) best = t;
    return best;
  });
}

/** The trial (0-based record line) holding the best latency among the first `budget` trials. */
export function bestRecordWithin(trials: readonly TrialLatency[], budget: number): number | null {
  let index: number | null = null;
  for (let i = 0; i < Math.min(budget, trials.length); i++) {
    const t = trials[i];
    if (t !== null && (index === null || t < (trials[index] as number))) index = i;
  }
  return index;
}

/** The curve's value after `budget` trials; a run that stopped early keeps its last value. */
export function curveAt(curve: ReadonlyArray<number | null>, budget: number): number | null {
  if (curve.length === 0) return null;
  return curve[Math.min(budget, curve.length) - 1] ?? null;
}
