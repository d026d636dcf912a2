// The order the runs go in. Strategies take turns (A B A B ...) seed after seed, so that a
// machine that slows down or speeds up during the bench affects every strategy alike. Pure.

export interface PlannedRun {
  id: string;
  workload: string;
  strategy: string;
  seed: number;
  order: number;
  /** Relative to the bench's out dir. */
  workDir: string;
}

/** `GMM:1` → `gmm_1`, `llama3-attn` → `llama3-attn`: safe as a folder name. */
export function slug(text: string): string {
  return text.replace(/[^A-Za-z0-9_.-]+/g, '_').toLowerCase();
}

export function planRuns(workloads: readonly string[], strategies: readonly string[], seeds: readonly number[]): PlannedRun[] {
  const runs: PlannedRun[] = [];
  for (const workload of workloads) {
    for (const seed of seeds) {
      // Alternate which strategy goes first, so none always runs right after the same one.
      const turn = seed % strategies.length;
      const ordered = [...strategies.slice(turn), ...strategies.slice(0, turn)];
      for (const strategy of ordered) {
        const id = `${slug(workload)}/${slug(strategy)}-s${seed}`;
        runs.push({ id, workload, strategy, seed, order: runs.length, workDir: `runs/${id}` });
      }
    }
  }
  return runs;
}
