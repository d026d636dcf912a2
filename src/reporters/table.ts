// The default reporter: MetaSchedule's task table after every measured batch and at the end.
import type { LlmEvent } from '../llm';
import type { SearchEvent } from '../search';
import type { TuneSummary } from '../tuning/summary';
import { renderTaskTable } from './task-table';
import type { LineSink, Reporter, TaskInfo } from './reporter';

export class TableReporter implements Reporter {
  private task: TaskInfo | undefined;

  constructor(private readonly out: LineSink) {}

  onTask(task: TaskInfo): void {
    // Once, before the first table (a restarted bridge opens the task again).
    if (!this.task) {
      this.out(describeTarget(task.target));
      this.out(describeProposers(task));
      if (task.costModelFile) this.out(`Cost model: xgb, beside ${task.costModelFile} (trained beforehand on other workloads).`);
    }
    this.task = task;
  }

  onEvent(event: SearchEvent | LlmEvent): void {
    if (event.type !== 'measure' || !this.task) return;
    this.print(event.bestLatencySec, event.trialsUsed, false);
  }

  onSummary(summary: TuneSummary, summaryPath: string): void {
    const best = summary.bestLatencyUs !== null ? summary.bestLatencyUs / 1e6 : undefined;
    // A cancelled task is not done: a rerun could still improve it.
    this.print(best, summary.trials, summary.stopReason !== 'cancelled');
    this.out(describeOutcome(summary));
    this.out(`Summary: ${summaryPath}`);
  }

  private print(latencySec: number | undefined, trials: number, done: boolean): void {
    const task = this.task;
    if (!task) return;
    const lines = renderTaskTable([{ id: 0, name: task.taskName, flop: task.flop, weight: 1, latencySec, trials, done }]);
    this.out(lines.join('\n'));
  }
}

/** What the kernels are compiled for, e.g. `Target: llvm, mcpu znver4, 2 cores.` */
export function describeTarget(target: TaskInfo['target']): string {
  if (target.kind !== 'llvm') return `Target: ${JSON.stringify(target)}.`;
  const mcpu = typeof target.mcpu === 'string' && target.mcpu !== '' ? `mcpu ${target.mcpu}` : 'no mcpu (a generic CPU: no AVX on x86-64)';
  const cores = target['num-cores'] !== undefined ? `, ${String(target['num-cores'])} cores` : '';
  return `Target: llvm, ${mcpu}${cores}.`;
}

const KIND_WORDS = { builtin: 'built-in', local: 'local LLM', remote: 'LLM' } as const;

/** Before the first table: who will propose, e.g. `Proposers: builtin (built-in), smollm2-135m (local LLM); at most 12 LLM calls.` */
export function describeProposers(task: Pick<TaskInfo, 'proposers' | 'llmBudget'>): string {
  const who = task.proposers.map((p) => `${p.name} (${KIND_WORDS[p.kind]})`).join(', ');
  if (!task.proposers.some((p) => p.kind !== 'builtin')) return `Proposers: ${who}; no LLM.`;
  return task.llmBudget === null ? `Proposers: ${who}.` : `Proposers: ${who}; at most ${task.llmBudget} LLM calls.`;
}

/** One line a person reads first: the best kernel, against the untuned build, and who found it. */
export function describeOutcome(summary: TuneSummary): string {
  const parts: string[] = [];
  if (summary.bestLatencyUs === null) {
    parts.push('No schedule ran successfully.');
  } else {
    let best = `Best: ${summary.bestLatencyUs.toFixed(1)} us (${(summary.gflops ?? 0).toFixed(2)} GFLOPS)`;
    if (summary.untunedLatencyUs !== null && summary.speedupOverUntuned !== null) {
      best += `, ${summary.speedupOverUntuned.toFixed(1)}x faster than the untuned build (${summary.untunedLatencyUs.toFixed(1)} us)`;
    }
    parts.push(`${best}.`);
  }
  const llm = summary.llm;
  if (!llm) {
    parts.push('Proposer: built-in (no LLM configured).');
  } else {
    const calls = Object.entries(llm.perModel).map(([name, m]) =>
      // Older summaries (and resumed runs' checkpoints) may lack the means.
      m.secondsPerCall == null
        ? `${name} ${m.calls}`
        : `${name} ${m.calls} (${m.secondsPerCall.toFixed(1)} s, ${Math.round(m.promptTokensPerCall ?? 0)}+${Math.round(m.completionTokensPerCall ?? 0)} tokens${
            m.threadsPerCall == null ? '' : `, ${m.threadsPerCall.toFixed(1)} threads`
          } a call)`,
    );
    parts.push(
      `LLM calls: ${calls.join(', ')}; $${llm.totals.costUsd.toFixed(4)}; ` +
        // With one LLM, every call is the largest model's: no share worth a word.
        (llm.smallModelShare === null || calls.length < 2 ? '' : `${Math.round(llm.smallModelShare * 100)}% by models other than ${llm.largestModel}; `) +
        `escalations: ${summary.escalations.asked} (${summary.escalations.replaced} replaced).`,
    );
    if (llm.budgetSwitch) {
      parts.push(`LLM budget spent after ${llm.budgetSwitch.trialsUsed} trials: the built-in proposer finished the run.`);
    }
  }
  return parts.join(' ');
}
