// `colt bench` and `colt report`: COLT against MetaSchedule on this machine, and the page that
// shows it. The CLI imports from here.
export {
  analyzeBench,
  geomean,
  isColt,
  median,
  type BenchAnalysis,
  type GeomeanSampleEfficiency,
  type Ratio,
  type SampleEfficiency,
  type WallRatio,
  type WallTimes,
  type WorkloadAnalysis,
} from './analysis';
export { bestCurve, bestRecordWithin, curveAt, trialsFromRecords, type TrialLatency } from './curve';
export { planRuns, slug, type PlannedRun } from './plan';
export { bar, formatDuration, Progress, type ProgressSink } from './progress';
export { logTicks, renderCurvePlot, renderReport, REPORT_FILE, summaryLines, writeReport } from './report';
export { BENCH_FILE, loadBench, parseBench, writeBench, type BenchResult, type BenchRun } from './result';
export { bootstrapGeomeanRatio, geomeanRatio, seededRandom, type Interval, type WorkloadSamples } from './bootstrap';
export { mergeBenchDirs, mergeBenches, type MergePart } from './merge';
export { BLAS_KERNEL_VARS, remeasureEnv } from './remeasure';
export { bench, benchEnv, remeasureBench, runTimeoutSec, type BenchIO } from './run';
export { checkTargets, targetLines, TARGETS, type TargetCheck } from './targets';
