// Reporters by name; several can watch one run.
import { JsonLinesReporter } from './json';
import type { LineSink, Reporter } from './reporter';
import { TableReporter } from './table';

export { JsonLinesReporter } from './json';
export { TableReporter } from './table';
export type { LineSink, Reporter, TaskInfo } from './reporter';

export type ReporterName = 'table' | 'json';

export function createReporter(name: ReporterName, out: LineSink): Reporter {
  return name === 'json' ? new JsonLinesReporter(out) : new TableReporter(out);
}

/** Fans every hook out to each reporter in turn. */
export function combineReporters(reporters: Reporter[]): Required<Reporter> {
  return {
    onTask: (task) => reporters.forEach((r) => r.onTask?.(task)),
    onEvent: (event) => reporters.forEach((r) => r.onEvent?.(event)),
    onSummary: (summary, file) => reporters.forEach((r) => r.onSummary?.(summary, file)),
  };
}
