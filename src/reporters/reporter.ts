// Reporters watch one tuning run: the task once it is open, the search's events, the summary.
// Every hook is optional; a reporter writes lines through the sink it was given.
import type { LlmEvent, ModelKind } from '../llm';
import type { SearchEvent } from '../search';
import type { TuneSummary } from '../tuning/summary';
import type { TargetSpec } from '../options/target';

export interface TaskInfo {
  workload: string;
  taskName: string;
  flop: number;
  target: TargetSpec;
  workDir: string;
  maxTrials: number;
  untunedLatencyUs: number | null;
  /** Who proposes transformations: the built-in proposer, LLMs, or both. */
  proposers: Array<{ name: string; kind: ModelKind }>;
  /** LLM calls allowed for the run; null without a limit or without LLMs. */
  llmBudget: number | null;
  /** The cost model file scoring beside the run's own (absolute); null: none. */
  costModelFile: string | null;
}

export interface Reporter {
  onTask?(task: TaskInfo): void;
  onEvent?(event: SearchEvent | LlmEvent): void;
  onSummary?(summary: TuneSummary, summaryPath: string): void;
}

/** Where a reporter's lines go: stdout in the CLI. */
export type LineSink = (line: string) => void;
