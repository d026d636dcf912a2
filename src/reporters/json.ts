// `--json`: one JSON object per line on stdout, one per event, ending with the summary, so a
// script can follow a run without parsing the table.
import type { LlmEvent } from '../llm';
import type { SearchEvent } from '../search';
import type { TuneSummary } from '../tuning/summary';
import type { LineSink, Reporter, TaskInfo } from './reporter';

export class JsonLinesReporter implements Reporter {
  constructor(private readonly out: LineSink) {}

  onTask(task: TaskInfo): void {
    this.out(JSON.stringify({ type: 'task', ...task }));
  }

  onEvent(event: SearchEvent | LlmEvent): void {
    this.out(JSON.stringify(event));
  }

  onSummary(summary: TuneSummary, summaryPath: string): void {
    this.out(JSON.stringify({ type: 'summary', ...summary, summaryPath }));
  }
}
