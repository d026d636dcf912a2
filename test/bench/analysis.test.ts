// The numbers a reader takes from a bench: ratios at equal budget, sample efficiency, % of BLAS.
import { analyzeBench, geomean, median, planRuns } from '../../src/bench';
import { withoutPretrained } from '../../src/bench/analysis';
import { benchOf, run } from './fixtures';

const BUDGETS = [2, 4];

function twoWorkloads() {
  const runs = [];
  for (const w of ['GMM:1', 'C2D:0']) {
    // COLT: 100 by trial 2 on every seed; evolutionary: 200 at 2 trials, 150 at 4.
    runs.push(run(w, 'colt', 0, [300, 100, 100, 90], { 2: 100, 4: 90 }, BUDGETS));
    runs.push(run(w, 'colt', 1, [200, 100, 80, 80], { 2: 100, 4: 80 }, BUDGETS));
    runs.push(run(w, 'colt', 2, [null, 120, 100, 100], { 2: 120, 4: 100 }, BUDGETS));
    for (const seed of [0, 1, 2]) runs.push(run(w, 'evolutionary', seed, [400, 200, 180, 150], { 2: 200, 4: 150 }, BUDGETS));
  }
  return benchOf(runs, BUDGETS, ['colt', 'evolutionary'], ['GMM:1', 'C2D:0'], 72);
}

describe('analyzeBench', () => {
  const a = analyzeBench(twoWorkloads());
  const gmm = a.workloads[0];

  it('takes medians over seeds of the re-measured best at each budget', () => {
    const colt = gmm.strategies.find((s) => s.strategy === 'colt')!;
    expect(colt.byBudget[2].remeasured).toEqual({ median: 100, min: 100, max: 120, n: 3 });
    expect(colt.byBudget[4].remeasured?.median).toBe(90);
    expect(colt.byBudget[4].tuning).toEqual({ median: 90, min: 80, max: 100, n: 3 });
  });

  it('draws a median curve only where every seed has a success, and the spread everywhere', () => {
    const colt = gmm.strategies.find((s) => s.strategy === 'colt')!;
    expect(colt.curve.median).toEqual([null, 100, 100, 90]);
    expect(colt.curve.min).toEqual([200, 100, 80, 80]);
    expect(colt.curve.max).toEqual([300, 120, 100, 100]);
  });

  it('gives evolutionary / COLT at equal budget, above 1 when COLT is faster', () => {
    expect(gmm.ratios).toEqual([
      { baseline: 'evolutionary', colt: 'colt', budget: 2, value: 2, source: 'remeasured' },
      { baseline: 'evolutionary', colt: 'colt', budget: 4, value: 150 / 90, source: 'remeasured' },
    ]);
    expect(a.geomeanRatios.find((r) => r.budget === 4)?.value).toBeCloseTo(150 / 90, 10);
  });

  it('counts the trials COLT needs to reach evolutionary\'s best at the largest budget', () => {
    // Evolutionary's median best at 4 trials is 150; COLT's median curve is at 100 after 2.
    expect(gmm.sampleEfficiency).toEqual([
      {
        colt: 'colt',
        baseline: 'evolutionary',
        baselineTrials: 4,
        targetUs: 150,
        coltTrials: 2,
        ratio: 2,
        // Re-measured: evolutionary's 150 at 4 trials; COLT's median is 100 already at 2.
        remeasured: { targetUs: 150, coltBudget: 2 },
      },
    ]);
    expect(a.geomeanSampleEfficiency).toEqual([
      { colt: 'colt', baseline: 'evolutionary', value: 2, reached: 2, of: 2, trials: 2, trialsAtLeast: 2 },
    ]);
  });

  it('says honestly where COLT never reached the target: no geomean, a lower bound counting it as one trial past the budget', () => {
    const bench = twoWorkloads();
    // On C2D:0 COLT never gets below 160, evolutionary reaches 150.
    for (const r of bench.runs.filter((x) => x.workload === 'C2D:0' && x.strategy === 'colt')) {
      r.curveUs = [300, 200, 180, 160];
      r.trialLatenciesUs = [300, 200, 180, 160];
    }
    const b = analyzeBench(bench);
    expect(b.workloads[1].sampleEfficiency[0]).toMatchObject({ coltTrials: null, ratio: null, targetUs: 150 });
    // GMM:1 reached in 2 trials; C2D:0 not within 4, so at least 5: geomean >= sqrt(2 * 5).
    expect(b.geomeanSampleEfficiency[0]).toMatchObject({ value: null, reached: 1, of: 2, trials: null });
    expect(b.geomeanSampleEfficiency[0].trialsAtLeast).toBeCloseTo(Math.sqrt(10), 12);
  });

  it('puts a bootstrap interval on each geometric mean ratio, around it, the same on every call', () => {
    const bench = twoWorkloads();
    const at4 = analyzeBench(bench).geomeanRatios.find((r) => r.budget === 4)!;
    // Seeds of COLT re-measured at 4: 90, 80, 100 (median 90); evolutionary 150 on every seed.
    expect(at4.interval).toMatchObject({ value: at4.value, level: 0.9, workloads: 2 });
    expect(at4.interval!.low).toBeLessThanOrEqual(at4.value!);
    expect(at4.interval!.high).toBeGreaterThanOrEqual(at4.value!);
    // The extremes any resample can reach: every seed drawn as COLT's slowest (100) or fastest (80).
    expect(at4.interval!.low).toBeGreaterThanOrEqual(150 / 100 - 1e-12);
    expect(at4.interval!.high).toBeLessThanOrEqual(150 / 80 + 1e-12);
    expect(analyzeBench(bench).geomeanRatios).toEqual(analyzeBench(bench).geomeanRatios);
  });

  it('gives wall times per strategy on one clock: to each budget, to the first record, and the search overhead', () => {
    const bench = twoWorkloads();
    for (const r of bench.runs) {
      const colt = r.strategy === 'colt';
      r.recordSeenSec = colt ? [30, 30, 40, 40] : [10, 10, 30, 30];
      r.wallSeconds = colt
        ? { total: 50, process: 51, startup: 25, search: 4, predict: 2, buildMeasure: 19, llmWait: 3, firstRecord: 30 }
        : { total: 40, process: 41, startup: 5, tune: 35, firstRecord: 10 };
    }
    const b = analyzeBench(bench);
    const colt = b.wall.find((w) => w.strategy === 'colt')!;
    expect(colt).toMatchObject({ runs: 6, totalSec: 50, firstRecordSec: 30, startupSec: 25, atBudgetSec: { 2: 30, 4: 40 } });
    // (4 + 2 - 3) / 50 on every run; LLM waits 3 / 50.
    expect(colt.searchOverheadShare).toBeCloseTo(0.06, 12);
    expect(colt.llmWaitShare).toBeCloseTo(0.06, 12);
    expect(b.wall.find((w) => w.strategy === 'evolutionary')).toMatchObject({ searchOverheadShare: null, llmWaitShare: null, atBudgetSec: { 2: 10, 4: 30 } });
    expect(b.wallRatios.map((r) => [r.colt, r.baseline, r.at, Number(r.value!.toFixed(9))])).toEqual([
      ['colt', 'evolutionary', 2, 3],
      ['colt', 'evolutionary', 4, Number((40 / 30).toFixed(9))],
      ['colt', 'evolutionary', 'firstRecord', 3],
    ]);
  });

  it('puts each strategy\'s best against numpy/OpenBLAS on the same operation', () => {
    expect(gmm.blasFraction.colt).toBeCloseTo(72 / 90, 10);
    expect(gmm.blasFraction.evolutionary).toBeCloseTo(72 / 150, 10);
  });

  it('falls back to tuning-time numbers where nothing was re-measured, and says so', () => {
    const bench = twoWorkloads();
    for (const r of bench.runs) for (const b of Object.values(r.atBudget)) b.remeasured = null;
    const ratio = analyzeBench(bench).workloads[0].ratios[0];
    expect(ratio).toMatchObject({ budget: 2, source: 'tuning', value: 2 });
  });

  it('gives LLM use per run, in total and per model, as medians over seeds', () => {
    const bench = twoWorkloads();
    const calls = [4, 12, 8];
    bench.runs
      .filter((r) => r.workload === 'GMM:1' && r.strategy === 'colt')
      .forEach((r, i) => {
        const small = { calls: calls[i], promptTokens: 100 * calls[i], completionTokens: 10 * calls[i], costUsd: 0.001 * calls[i] };
        r.llm = { perModel: { small }, totals: { ...small }, smallModelShare: 1 };
      });
    const colt = analyzeBench(bench).workloads[0].strategies.find((s) => s.strategy === 'colt')!;
    expect(colt.llm).toEqual({ calls: 8, tokens: 880, costUsd: 0.008, perModel: { small: { calls: 8, tokens: 880, costUsd: 0.008 } } });
    expect(analyzeBench(bench).workloads[0].strategies.find((s) => s.strategy === 'evolutionary')!.llm).toBeNull();
  });

  it('leaves out a re-measured schedule whose output was wrong', () => {
    const bench = twoWorkloads();
    const colt0 = bench.runs.find((r) => r.workload === 'GMM:1' && r.strategy === 'colt' && r.seed === 0)!;
    colt0.atBudget['4'].remeasured = { minUs: 1, correct: false };
    const stats = analyzeBench(bench).workloads[0].strategies.find((s) => s.strategy === 'colt')!;
    expect(stats.byBudget[4].incorrect).toBe(1);
    expect(stats.byBudget[4].remeasured?.min).toBe(80);
  });
});

describe('planRuns', () => {
  it('interleaves strategies seed after seed, rotating who goes first', () => {
    const order = planRuns(['GMM:1'], ['colt', 'evolutionary'], [0, 1, 2]).map((r) => `${r.strategy}:${r.seed}`);
    expect(order).toEqual(['colt:0', 'evolutionary:0', 'evolutionary:1', 'colt:1', 'colt:2', 'evolutionary:2']);
  });

  it('gives every run its own work dir', () => {
    const runs = planRuns(['GMM:1', 'llama3-attn'], ['colt', 'replay-trace'], [0]);
    expect(new Set(runs.map((r) => r.workDir)).size).toBe(4);
    expect(runs[0].workDir).toBe('runs/gmm_1/colt-s0');
  });
});

describe('median and geomean', () => {
  it('are the usual ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(geomean([1, 4])).toBeCloseTo(2, 12);
  });

  it('puts a -pretrained strategy against the same strategy without the file, beside the baselines', () => {
    const budgets = [2, 4];
    const bench = benchOf(
      [0, 1, 2].flatMap((seed) => [
        run('GMM:1', 'evolutionary', seed, [300, 200, 180, 150], { 2: 200, 4: 150 }, budgets),
        run('GMM:1', 'colt-no-llm', seed, [250, 200, 120, 120], { 2: 200, 4: 120 }, budgets),
        run('GMM:1', 'colt-no-llm-pretrained', seed, [100, 100, 100, 80], { 2: 100, 4: 80 }, budgets),
      ]),
      budgets,
      ['colt-no-llm', 'colt-no-llm-pretrained', 'evolutionary'],
      ['GMM:1'],
    );
    const ratios = analyzeBench(bench).workloads[0].ratios;
    const pairs = [...new Set(ratios.map((r) => `${r.baseline} / ${r.colt}`))];
    expect(pairs).toEqual(['evolutionary / colt-no-llm', 'evolutionary / colt-no-llm-pretrained', 'colt-no-llm / colt-no-llm-pretrained']);
    expect(ratios.filter((r) => r.baseline === 'colt-no-llm').map((r) => r.value)).toEqual([2, 1.5]);
    expect(withoutPretrained('colt-pretrained')).toBe('colt');
    expect(withoutPretrained('colt-no-llm')).toBeNull();
    expect(withoutPretrained('evolutionary-pretrained')).toBeNull();
  });
});
