// report.html: one static page, readable offline (inline CSS and SVG, no script, no network).
// Headline ratios first, then per workload its tuning curves and its numbers, then every setting
// the bench ran under and every run. Pure: a bench result in, a page out.
import { analyzeBench, type BenchAnalysis, type Ratio, type StrategyStats, type WorkloadAnalysis } from '../analysis';
import { remeasuredUs, type BenchResult } from '../result';
import { escapeXml as esc, formatLatency, renderCurvePlot } from './svg';

/** Okabe–Ito colours: distinguishable with the common colour-vision deficiencies. */
const COLORS: Record<string, string> = {
  colt: '#D55E00',
  'colt-no-llm': '#E69F00',
  'colt-pretrained': '#CC79A7',
  'colt-no-llm-pretrained': '#56B4E9',
  evolutionary: '#0072B2',
  'replay-trace': '#009E73',
};
const FALLBACK = ['#000000', '#F0E442', '#999999', '#332288'];

export function strategyColor(name: string, index: number): string {
  return COLORS[name] ?? FALLBACK[index % FALLBACK.length];
}

const x = (v: number | null | undefined, digits = 2): string => (v === null || v === undefined ? '–' : `${v.toFixed(digits)}×`);
const pct = (v: number | null | undefined): string => (v === null || v === undefined ? '–' : `${(v * 100).toFixed(0)}%`);
const lat = (v: number | null | undefined): string => (v === null || v === undefined ? '–' : formatLatency(v));

function ratioCell(r: Ratio | undefined): string {
  if (!r || r.value === null) return '<td>–</td>';
  const cls = r.value > 1.02 ? 'win' : r.value < 0.98 ? 'loss' : '';
  const mark = r.source === 'tuning' ? '<sup title="from tuning-time measurements: no re-measured value">t</sup>' : '';
  const i = r.interval;
  const interval = i
    ? `<span class="range interval" title="${Math.round(i.level * 100)}% bootstrap interval, ${i.resamples} resamples">${x(i.low)}–${x(i.high)}</span>`
    : '';
  return `<td class="${cls}">${x(r.value)}${mark}${interval}</td>`;
}

function headline(a: BenchAnalysis): string {
  const pairs = [...new Set(a.geomeanRatios.map((r) => `${r.baseline}\u0000${r.colt}`))];
  if (pairs.length === 0) {
    return '<p>Only one side ran (COLT or MetaSchedule), so there is no ratio to show.</p>';
  }
  const rows = pairs.map((key) => {
    const [baseline, colt] = key.split('\u0000');
    const cells = a.budgets.map((b) => ratioCell(a.geomeanRatios.find((r) => r.baseline === baseline && r.colt === colt && r.budget === b)));
    const se = a.geomeanSampleEfficiency.find((e) => e.baseline === baseline && e.colt === colt);
    const seCell = !se
      ? '<td>–</td>'
      : se.value !== null
        ? `<td>${x(se.value, 1)}<span class="range">${se.trials!.toFixed(1)} trials</span></td>`
        : `<td class="left">not reached on ${se.of - se.reached} of ${se.of} workloads` +
          `${se.trialsAtLeast !== null ? `<span class="range">at least ${se.trialsAtLeast.toFixed(1)} trials (geomean)</span>` : ''}</td>`;
    return `<tr><th>${esc(baseline)} / ${esc(colt)}</th>${cells.join('')}${seCell}</tr>`;
  });
  return (
    `<table class="ratios"><thead><tr><th>best latency ratio, geometric mean over workloads</th>` +
    `${a.budgets.map((b) => `<th>${b} trials</th>`).join('')}<th>sample efficiency</th></tr></thead>` +
    `<tbody>${rows.join('')}</tbody></table>` +
    `<p class="note">Above 1×: COLT's best schedule is faster than the MetaSchedule strategy's at the same number of hardware trials ` +
    `(medians over seeds, re-measured at the end under one setting). Under each ratio, its 90% bootstrap interval: workloads resampled ` +
    `with replacement, then each side's seeds within each drawn workload, the geometric mean recomputed each time (a fixed seed, so the ` +
    `numbers reproduce). Sample efficiency: ${a.maxTrials} ÷ the trials COLT's median curve ` +
    `needs to reach the MetaSchedule strategy's median best after ${a.maxTrials} trials, and those trials (geometric mean).</p>`
  );
}

function wallSection(a: BenchAnalysis): string {
  const rows = a.wall.filter((w) => w.runs > 0);
  if (rows.length === 0) return '';
  const s = (v: number | null | undefined) => (v === null || v === undefined ? '–' : `${v.toFixed(0)} s`);
  const body = rows.map(
    (w) =>
      `<tr><th><span class="swatch" style="background:${strategyColor(w.strategy, 0)}"></span>${esc(w.strategy)}</th>` +
      `${a.budgets.map((b) => `<td>${s(w.atBudgetSec[b])}</td>`).join('')}<td>${s(w.totalSec)}</td><td>${s(w.firstRecordSec)}</td>` +
      `<td>${s(w.startupSec)}</td><td>${pct(w.searchOverheadShare)}</td><td>${pct(w.llmWaitShare)}</td></tr>`,
  );
  const ratios = [...new Set(a.wallRatios.map((r) => `${r.baseline}\u0000${r.colt}`))].map((key) => {
    const [baseline, colt] = key.split('\u0000');
    const cell = (at: number | 'firstRecord') => x(a.wallRatios.find((r) => r.baseline === baseline && r.colt === colt && r.at === at)?.value);
    return `<tr><th>${esc(colt)} / ${esc(baseline)}</th>${a.budgets.map((b) => `<td>${cell(b)}</td>`).join('')}<td>–</td><td>${cell('firstRecord')}</td><td></td><td></td><td></td></tr>`;
  });
  return (
    `<section><h2>Wall time</h2><table><thead><tr><th>median per run</th>${a.budgets.map((b) => `<th>to ${b} trials</th>`).join('')}` +
    `<th>whole run</th><th>first trial recorded</th><th>own start-up</th><th>search overhead</th><th>LLM wait</th></tr></thead>` +
    `<tbody>${body.join('')}${ratios.join('')}</tbody></table>` +
    `<p class="note">"To N trials" and "first trial recorded": seconds from a run's start until its database held that many trials ` +
    `(read each second), the same clock for every strategy. Own start-up: what the strategy reports (COLT: the bridge, the task and the ` +
    `untuned build; ms.tune_tir: imports, loading and the build pool). Search overhead: the search's own time (search and cost-model ` +
    `prediction, less LLM waits), summed over runs ÷ their wall time. Ratio rows: COLT ÷ the baseline, geometric mean over workloads ` +
    `(below 1×, COLT is quicker).</p></section>`
  );
}

function strategyRow(w: WorkloadAnalysis, s: StrategyStats, budgets: number[]): string {
  const cells = budgets.map((b) => {
    const st = s.byBudget[b];
    const r = st?.remeasured;
    const t = st?.tuning;
    if (!r && !t) return '<td>–</td>';
    const main = r ? lat(r.median) : `${lat(t!.median)}<sup title="tuning-time measurement">t</sup>`;
    const range = r && r.n > 1 ? `<span class="range">${lat(r.min)}–${lat(r.max)}</span>` : '';
    const bad = st.incorrect > 0 ? ` <span class="loss" title="re-measured output differed from the untuned build">✗${st.incorrect}</span>` : '';
    return `<td>${main}${range}${bad}</td>`;
  });
  const max = budgets[budgets.length - 1];
  const best = s.byBudget[max]?.remeasured?.median ?? s.byBudget[max]?.tuning?.median;
  const gflops = w.flop && best ? (w.flop / (best * 1e-6) / 1e9).toFixed(1) : '–';
  const use = (u: { calls: number; tokens: number; costUsd: number }) =>
    `${u.calls.toFixed(0)} calls, ${(u.tokens / 1000).toFixed(1)}k tok, $${u.costUsd.toFixed(4)}`;
  const perModel = s.llm
    ? Object.entries(s.llm.perModel)
        .map(([name, u]) => `<span class="range">${esc(name)}: ${use(u)}</span>`)
        .join('')
    : '';
  const llm = s.llm ? `${use(s.llm)}${perModel}` : '–';
  const failed = s.failed > 0 ? ` <span class="loss">${s.failed} failed</span>` : '';
  return (
    `<tr><th><span class="swatch" style="background:${strategyColor(s.strategy, 0)}"></span>${esc(s.strategy)}${failed}</th>${cells.join('')}` +
    `<td>${gflops}</td>${w.matmulLike ? `<td>${pct(w.blasFraction[s.strategy])}</td>` : ''}` +
    `<td>${s.wallSeconds !== null ? `${s.wallSeconds.toFixed(0)} s` : '–'}</td><td>${llm}</td></tr>`
  );
}

function workloadSection(w: WorkloadAnalysis, a: BenchAnalysis): string {
  const plot = renderCurvePlot({
    title: `${w.spec}${w.task && w.task !== w.spec ? ` (${w.task})` : ''}: best latency vs trials`,
    xMax: a.maxTrials,
    budgets: a.budgets,
    series: w.strategies.map((s, i) => ({ name: s.strategy, color: strategyColor(s.strategy, i), ...s.curve })),
    reference: w.blasUs !== null ? { label: `numpy/OpenBLAS ${formatLatency(w.blasUs)}`, valueUs: w.blasUs } : undefined,
  });
  const ratioRows = [...new Set(w.ratios.map((r) => `${r.baseline}\u0000${r.colt}`))].map((key) => {
    const [baseline, colt] = key.split('\u0000');
    const cells = a.budgets.map((b) => ratioCell(w.ratios.find((r) => r.baseline === baseline && r.colt === colt && r.budget === b)));
    const se = w.sampleEfficiency.find((e) => e.baseline === baseline && e.colt === colt);
    const curveText = !se || se.targetUs === null
      ? '–'
      : se.coltTrials !== null
        ? `${esc(colt)} reaches ${esc(baseline)}'s best-at-${se.baselineTrials} (${lat(se.targetUs)}) after ${se.coltTrials} trials: ${x(se.ratio, 1)}`
        : `${esc(colt)} does not reach ${esc(baseline)}'s best-at-${se.baselineTrials} (${lat(se.targetUs)}) within ${a.maxTrials} trials`;
    const rm = se?.remeasured;
    const rmText = !rm
      ? ''
      : `<span class="range">re-measured: ${
          rm.coltBudget !== null
            ? `${esc(colt)}'s best at ${rm.coltBudget} trials is as fast as ${esc(baseline)}'s at ${se!.baselineTrials} (${lat(rm.targetUs)})`
            : `no budget of ${esc(colt)} matches ${esc(baseline)}'s ${lat(rm.targetUs)} at ${se!.baselineTrials}`
        }</span>`;
    const seText = `tuning curves: ${curveText}${rmText}`;
    return `<tr><th>${esc(baseline)} / ${esc(colt)}</th>${cells.join('')}<td class="left">${seText}</td></tr>`;
  });
  const head =
    `<tr><th>strategy</th>${a.budgets.map((b) => `<th>best @${b}</th>`).join('')}<th>GFLOPS @${a.maxTrials}</th>` +
    `${w.matmulLike ? '<th>% of BLAS</th>' : ''}<th>wall / run</th><th>LLM / run</th></tr>`;
  return (
    `<section class="workload" id="${esc(w.spec)}"><h2>${esc(w.spec)}</h2>` +
    `<p class="meta">${w.task ? `task ${esc(w.task)}` : ''}${w.flop ? ` · ${(w.flop / 1e6).toFixed(1)} MFLOP` : ''}` +
    `${w.blasUs !== null ? ` · numpy/OpenBLAS on the same operation: ${lat(w.blasUs)}` : ''}</p>` +
    `<div class="plotbox">${plot}</div>` +
    `<table><thead>${head}</thead><tbody>${w.strategies.map((s) => strategyRow(w, s, a.budgets)).join('')}</tbody></table>` +
    (ratioRows.length > 0
      ? `<table class="ratios"><thead><tr><th>speedup of COLT</th>${a.budgets.map((b) => `<th>${b} trials</th>`).join('')}<th class="left">sample efficiency</th></tr></thead><tbody>${ratioRows.join('')}</tbody></table>`
      : '') +
    `</section>`
  );
}

/** Which BLAS kernel the re-measurement ran, and what was unset for it. */
function blasRuntimeText(s: BenchResult['settings']): string {
  const libs = (s.blasRuntime ?? []).map((b) =>
    ['internal_api', 'version', 'architecture', 'num_threads'].map((k) => (b[k] !== undefined ? `${k} ${String(b[k])}` : '')).filter(Boolean).join(', '),
  );
  const env = s.remeasureEnv ? ` · environment ${JSON.stringify(s.remeasureEnv)}` : '';
  return `${libs.length > 0 ? libs.join('; ') : 'not recorded'}${env}`;
}

function settingsSection(bench: BenchResult): string {
  const s = bench.settings;
  const m = bench.machine;
  const rows: Array<[string, string]> = [
    ['command', `<code>${esc(bench.command)}</code>`],
    ['machine', `${esc(m.cpuModel)}, ${m.logicalCores} logical cores, ${m.totalMemGiB.toFixed(0)} GiB, ${esc(m.platform)}`],
    ['versions', esc(['node', 'python', 'tvm', 'numpy', 'colt'].map((k) => (m[k] ? `${k} ${String(m[k])}` : '')).filter(Boolean).join(' · '))],
    ['BLAS', esc(JSON.stringify(m.blas ?? {}))],
    ['target', `<code>${esc(JSON.stringify(s.target))}</code>`],
    ['strategies', esc(s.strategies.join(', '))],
    ['budgets', esc(s.budgets.join(', '))],
    ['seeds', esc(s.seeds.join(', '))],
    ['trials per batch', String(s.perIter)],
    ['evaluator (every trial)', `number ${s.measure.number}, repeat ${s.measure.repeat}, min_repeat_ms ${s.measure.minRepeatMs}, timeout ${s.measure.timeoutSec} s`],
    ['cost model', esc(s.costModelFile ? `${s.costModel}, with ${s.costModelFile} for the -pretrained strategies` : s.costModel)],
    [
      're-measurement',
      `${s.remeasure.rounds} rounds × ${s.remeasure.repeat} samples, min_repeat_ms ${s.remeasure.minRepeatMs}; every contender in turn each round; ` +
        'a kernel\'s time is its fastest sample (a busy neighbour only slows code down); bench.json also keeps the median',
    ],
    ['environment', `<code>${esc(JSON.stringify(s.env ?? s.threads ?? {}))}</code>`],
    ['re-measurement\'s BLAS', esc(blasRuntimeText(s))],
    ['started', esc(bench.startedAt)],
    ['finished', esc(bench.finishedAt ?? `(${bench.status})`)],
  ];
  const notes = bench.notes.length > 0 ? `<ul class="notes">${bench.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : '';
  return `<section><h2>How this was measured</h2><table class="settings">${rows.map(([k, v]) => `<tr><th>${k}</th><td class="left">${v}</td></tr>`).join('')}</table>${notes}</section>`;
}

function runsSection(bench: BenchResult): string {
  const max = Math.max(...bench.settings.budgets);
  const rows = [...bench.runs]
    .sort((a, b) => a.order - b.order)
    .map((r) => {
      const final = r.atBudget[String(max)];
      const best = remeasuredUs(final?.remeasured) ?? null;
      const status = r.status === 'ok' ? 'ok' : `<span class="loss">${esc(r.status)}</span>`;
      return (
        `<tr><td>${r.order + 1}</td><td class="left">${esc(r.id)}</td><td>${status}</td><td>${r.trials}</td>` +
        `<td>${lat(r.curveUs.at(-1) ?? null)}</td><td>${lat(best)}</td><td>${r.wallSeconds.process !== undefined ? `${r.wallSeconds.process.toFixed(0)} s` : '–'}</td>` +
        `<td>${r.loadAvg ? `${r.loadAvg.start.toFixed(1)} → ${r.loadAvg.end.toFixed(1)}` : '–'}</td>` +
        `<td class="left">${r.error ? esc(r.error) : ''}</td></tr>`
      );
    });
  return (
    `<section><details><summary>Every run, in the order they ran (${bench.runs.length})</summary>` +
    `<table><thead><tr><th>#</th><th>run</th><th>status</th><th>trials</th><th>best (tuning)</th><th>best (re-measured)</th><th>wall</th><th title="1-minute load average at the run's start and end">load</th><th>error</th></tr></thead>` +
    `<tbody>${rows.join('')}</tbody></table></details></section>`
  );
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;max-width:1000px;margin:24px auto;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 6px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta,.note{color:#555;margin:4px 0 10px}.note{font-size:12.5px}
table{border-collapse:collapse;margin:10px 0;font-variant-numeric:tabular-nums}
th,td{padding:4px 10px;border-bottom:1px solid #eee;text-align:right;vertical-align:top}th{font-weight:600;text-align:left}
thead th{text-align:right;border-bottom:2px solid #ccc}thead th:first-child{text-align:left}
td,tbody th{white-space:nowrap}td.left{text-align:left;white-space:normal}.range{display:block;color:#777;font-size:11.5px}
.win{color:#0a7d32;font-weight:600}.loss{color:#b3261e;font-weight:600}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}
svg.plot{max-width:100%;height:auto;font:12px system-ui,sans-serif}svg .title{font-weight:600;font-size:13px}
svg .tick{fill:#555;font-size:11px}svg .axis{fill:#333}
.settings th{width:190px}code{font-size:12.5px}details summary{cursor:pointer;font-weight:600}
`;

export function renderReport(bench: BenchResult): string {
  const a = analyzeBench(bench);
  const title = `COLT bench: ${bench.workloads.map((w) => w.spec).join(', ')}`;
  const partial = bench.status !== 'done' ? `<p class="loss">This bench did not finish (${esc(bench.status)}): the numbers cover the runs that did.</p>` : '';
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<title>${esc(title)}</title><style>${CSS}</style></head><body>` +
    `<h1>${esc(title)}</h1><p class="meta">${esc(bench.settings.strategies.join(' vs '))} · budgets ${esc(bench.settings.budgets.join(', '))} trials · ` +
    `${bench.settings.seeds.length} seed(s) · ${esc(String(bench.machine.cpuModel))}, num-cores ${bench.settings.numCores} · ${esc(bench.startedAt.slice(0, 10))}</p>` +
    partial +
    `<section><h2>Summary</h2>${headline(a)}</section>` +
    wallSection(a) +
    a.workloads.map((w) => workloadSection(w, a)).join('') +
    settingsSection(bench) +
    runsSection(bench) +
    `</body></html>\n`
  );
}
