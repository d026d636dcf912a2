// `colt bench` and `colt report`: COLT against MetaSchedule on this machine, and the page that
// shows it. The CLI imports from here.
export { analyzeBench, geomean, isColt, median, type BenchAnalysis, type Ratio, type SampleEfficiency, type WorkloadAnalysis } from './analysis';
export { bestCurve, bestRecordWithin, curveAt, trialsFromRecords, type TrialLatency } from './curve';
export { planRuns, slug, type PlannedRun } from './plan';
export { bar, formatDuration, Progress, type ProgressSink } from './progress';
export { logTicks, renderCurvePlot, renderReport, REPORT_FILE, summaryLines, writeReport } from './report';
export { BENCH_FILE, loadBench, parseBench, writeBench, type BenchResult, type BenchRun } from './result';
export { bench, benchEnv, remeasureBench, type BenchIO } from './run';
