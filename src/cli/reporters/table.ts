// The default reporter: MetaSchedule's task table after every measured batch and at the end.
import type { SearchEvent } from '../../search';
import type { TuneSummary } from '../summary';
import { renderTaskTable } from '../table';
import type { LineSink, Reporter, TaskInfo } from './reporter';

export class TableReporter implements Reporter {
  private task: TaskInfo | undefined;

  constructor(private readonly out: LineSink) {}

  onTask(task: TaskInfo): void {
    this.task = task;
  }

  onEvent(event: SearchEvent): void {
    if (event.type !== 'measure' || !this.task) return;
    this.print(event.bestLatencySec, event.trialsUsed, false);
  }

  onSummary(summary: TuneSummary, summaryPath: string): void {
    const best = summary.bestLatencyUs !== null ? summary.bestLatencyUs / 1e6 : undefined;
    // A cancelled task is not done: a rerun could still improve it.
    this.print(best, summary.trials, summary.stopReason !== 'cancelled');
    this.out(`Summary: ${summaryPath}`);
  }

  private print(latencySec: number | undefined, trials: number, done: boolean): void {
    const task = this.task;
    if (!task) return;
    const lines = renderTaskTable([{ id: 0, name: task.taskName, flop: task.flop, weight: 1, latencySec, trials, done }]);
    this.out(lines.join('\n'));
  }
}
