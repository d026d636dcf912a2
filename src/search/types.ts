// The search core's vocabulary and the two interfaces through which it talks to the world.
// Nothing in src/search/ imports gRPC, the file system, an LLM client or a logger: adapters
// (src/bridge/, later src/llm/) implement these interfaces, and tests use in-memory fakes.

/** One transformation of a trace: a MetaSchedule mutator, or a directed edit of one decision. */
export type Transformation =
  | { kind: 'mutator'; name: string }
  | { kind: 'setDecision'; instIndex: number; value: unknown };

/** A sampling decision inside a trace, which a directed edit may set. */
export interface Decision {
  instIndex: number;
  kind: string; // SamplePerfectTile | SampleCategorical | SampleComputeLocation
  value: unknown;
  detail: unknown; // loop extent and n for tiles, candidates for categorical...
}

/** A schedule the bridge has validated: its trace (TVM JSON, as a string) and identity. */
export interface Candidate {
  traceJson: string;
  /** Structural hash of the post-processed module: equal hashes mean equal schedules. */
  shash: string;
  decisions: Decision[];
}

export interface MutatorInfo {
  name: string;
  probability: number;
}

export type ApplyErrorCode =
  | 'UNKNOWN_TRANSFORMATION'
  | 'INVALID_DECISION'
  | 'MUTATOR_FAILED'
  | 'POSTPROC_FAILED'
  | 'SCHEDULE_ERROR';

export interface TransformationOutcome {
  applied: boolean;
  code?: ApplyErrorCode;
  message?: string;
}

export type ApplyOutcome =
  | { ok: true; candidate: Candidate; outcomes: TransformationOutcome[] }
  | { ok: false; code: ApplyErrorCode; message: string; outcomes: TransformationOutcome[] };

/**
 * Why a trial has no time. All but DEVICE_LOST are the schedule's failures and count as trials;
 * DEVICE_LOST means the device went away under the trial (after the bridge's own retries on
 * other devices): the trial is not spent, and the schedule may be measured again. WRONG_RESULT:
 * it ran, but its outputs differ from the untuned build's; its time is never a result.
 */
export type MeasureErrorCode =
  | 'BUILD_FAILED'
  | 'RUN_FAILED'
  | 'TIMED_OUT'
  | 'SESSION_TIMEOUT'
  | 'DEVICE_LOST'
  | 'INVALID_SCHEDULE'
  | 'WRONG_RESULT';

/** device: which RPC device ran the trial (host:port), when it ran on one. */
export type MeasureOutcome =
  | { ok: true; runSecs: number[]; device?: string }
  | { ok: false; code: MeasureErrorCode; message: string; device?: string };

/** A trial the database already holds, e.g. from the run a `--resume` continues. */
export interface CommittedTrial {
  /** Undefined when the record's trace no longer replays: it still counts against the budget. */
  candidate?: Candidate;
  /** Mean run time in seconds; undefined for a failed trial. */
  latencySec?: number;
}

/**
 * What the search needs from TVM: sample, transform, score and measure schedules of one task.
 * The bridge client implements it over gRPC.
 */
export interface ScheduleSpace {
  readonly mutators: MutatorInfo[];
  sampleInitial(count: number, seed: number): Promise<Candidate[]>;
  apply(traceJson: string, transformations: Transformation[], seed: number): Promise<ApplyOutcome>;
  /** Cost-model scores, higher is better, one per trace. */
  predict(traceJsons: string[]): Promise<number[]>;
  /** Builds and runs on the target, commits the records, retrains the cost model. */
  measure(traceJsons: string[]): Promise<MeasureOutcome[]>;
  /** TVMScript of each trace's post-processed scheduled module, one per trace, for prompts. */
  describe?(traceJsons: string[]): Promise<string[]>;
}

/** A read-only view of a tree node, as proposers see it. */
export interface NodeView {
  id: number;
  depth: number;
  traceJson: string;
  decisions: Decision[];
  predictedScore: number;
  /** Mean measured latency in seconds, when measured successfully. */
  measuredLatency?: number;
  /** The model that will act on this node (chosen by whoever expanded its parent). */
  model: string;
  /** The model that created this node (undefined for the initial population). */
  expandedBy?: string;
  /** The scheduled module as TVMScript: set only for a proposer that wants it, when the space could print it. */
  tvmscript?: string;
}

/** What a proposer is told when it acts on a node. */
export interface ProposalContext {
  node: NodeView;
  parent?: NodeView;
  grandparent?: NodeView;
  mutators: MutatorInfo[];
  trialsUsed: number;
  maxTrials: number;
  /** Models the proposer may hand the next turn to. */
  models: string[];
  /** Deterministic randomness for this proposal: uniform in [0, 1). */
  random: () => number;
  /** The models whose proposals created the last (up to three) schedules, oldest first. */
  recentExpanders?: string[];
}

/** A joint action: what to apply, and which model acts on the resulting child. */
export interface Proposal {
  transformations: Transformation[];
  nextModel?: string;
}

/** A small model's expansion whose child the cost model scored below its parent. */
export interface Regression {
  model: string;
  proposal: Proposal;
  parentScore: number;
  childScore: number;
}

/** What the correcting (largest) model is told: the latest regression and the streak behind it. */
export interface CorrectionRequest extends Regression {
  /** Consecutive small-model regressions, this one included. */
  streak: number;
  /** The streak's regressions, oldest first, ending with this one (at most a few). */
  history: Regression[];
}

/** Something that proposes actions: the built-in proposer, or an LLM. */
export interface Proposer {
  readonly name: string;
  /**
   * Whether its next turn reads the TVMScript of the node, parent and grandparent: the search
   * then asks the space for it (a cost the built-in proposer, which reads decisions, is spared).
   */
  wantsTvmScript?(): boolean;
  propose(ctx: ProposalContext): Promise<Proposal>;
  /** Told whether its last proposal on a node improved on the parent's predicted score. */
  feedback?(proposal: Proposal, improved: boolean): void;
  /**
   * Course alteration: a better proposal for ctx.node, the parent of a small model's regressing
   * child. undefined declines (e.g. the LLM budget is spent), and the small model's child stays.
   * A proposer without this method is asked through propose().
   */
  correct?(ctx: ProposalContext, request: CorrectionRequest): Promise<Proposal | undefined>;
  /** What it has learnt, as plain JSON data, for a checkpoint; restore() takes it back. */
  snapshot?(): unknown;
  restore?(state: unknown): void;
}
