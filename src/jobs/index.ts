export { Job, type JobKind, type JobState, type JobView, type JobWatcher, type ModelUsage } from './job';
export { JobManager } from './manager';
export type { ClientResult, NextBatch, SearchJobSpec } from './search-job';
export type { JobEnv } from './tune-job';
