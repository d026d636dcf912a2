// The search core's ScheduleSpace, served by one task of the bridge: converts between the
// proto messages (snake_case, JSON-in-strings, enum names) and the core's types.
import type { Candidate as ProtoCandidate } from '../generated/colt/v1/Candidate';
import type { Candidate__Output } from '../generated/colt/v1/Candidate';
import type { ListRecordsResponse__Output } from '../generated/colt/v1/ListRecordsResponse';
import type { MeasureResponse__Output } from '../generated/colt/v1/MeasureResponse';
import type { Transformation as ProtoTransformation } from '../generated/colt/v1/Transformation';
import type { TransformationOutcome__Output } from '../generated/colt/v1/TransformationOutcome';
import type {
  ApplyErrorCode,
  ApplyOutcome,
  Candidate,
  CommittedTrial,
  Decision,
  MeasureErrorCode,
  MeasureOutcome,
  MutatorInfo,
  ScheduleSpace,
  Transformation,
  TransformationOutcome,
} from '../search';
import type { BridgeClient } from './client';

const APPLY_ERRORS: readonly ApplyErrorCode[] = [
  'UNKNOWN_TRANSFORMATION',
  'INVALID_DECISION',
  'MUTATOR_FAILED',
  'POSTPROC_FAILED',
  'SCHEDULE_ERROR',
];
const MEASURE_ERRORS: readonly MeasureErrorCode[] = [
  'BUILD_FAILED',
  'RUN_FAILED',
  'TIMED_OUT',
  'SESSION_TIMEOUT',
  'DEVICE_LOST',
  'INVALID_SCHEDULE',
  'WRONG_RESULT',
];

/** JSON the bridge wrote; a value it could not encode is not worth failing a search over. */
function parseJson(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

export function candidateFromProto(c: Candidate__Output): Candidate {
  return {
    traceJson: c.trace_json,
    shash: c.shash,
    decisions: c.decisions.map(
      (d): Decision => ({
        instIndex: d.inst_index,
        kind: d.kind,
        value: parseJson(d.value_json),
        detail: parseJson(d.detail_json),
      }),
    ),
  };
}

export function candidateToProto(c: Candidate): ProtoCandidate {
  return {
    trace_json: c.traceJson,
    shash: c.shash,
    decisions: c.decisions.map((d) => ({
      inst_index: d.instIndex,
      kind: d.kind,
      value_json: JSON.stringify(d.value ?? null),
      detail_json: JSON.stringify(d.detail ?? null),
    })),
  };
}

export function transformationToProto(t: Transformation): ProtoTransformation {
  if (t.kind === 'mutator') return { mutator: t.name };
  return { set_decision: { inst_index: t.instIndex, value_json: JSON.stringify(t.value ?? null) } };
}

export function transformationFromProto(t: ProtoTransformation): Transformation | undefined {
  if (t.kind === 'mutator' || (t.kind === undefined && t.mutator !== undefined)) {
    return { kind: 'mutator', name: t.mutator ?? '' };
  }
  if (t.set_decision) {
    return {
      kind: 'setDecision',
      instIndex: t.set_decision.inst_index ?? 0,
      value: parseJson(t.set_decision.value_json ?? ''),
    };
  }
  return undefined;
}

/** An enum name from a newer bridge that this client does not know falls back to `fallback`. */
function knownCode<T extends string>(name: string, known: readonly T[], fallback: T): T {
  return (known as readonly string[]).includes(name) ? (name as T) : fallback;
}

function outcomeFromProto(o: TransformationOutcome__Output): TransformationOutcome {
  if (o.applied || o.code === 'APPLY_OK') return { applied: o.applied };
  return { applied: false, code: knownCode(o.code, APPLY_ERRORS, 'SCHEDULE_ERROR'), message: o.message };
}

export function measureOutcomesFromProto(response: MeasureResponse__Output): MeasureOutcome[] {
  return response.results.map((r): MeasureOutcome => {
    const device = r.device ? { device: r.device } : {};
    if (r.error === 'MEASURE_OK') return { ok: true, runSecs: r.run_secs, ...device };
    return { ok: false, code: knownCode(r.error, MEASURE_ERRORS, 'RUN_FAILED'), message: r.message, ...device };
  });
}

/** A database's records as the search's committed trials (a failure has no latency). */
export function committedTrialsFromProto(response: ListRecordsResponse__Output): CommittedTrial[] {
  return response.records.map((r): CommittedTrial => {
    const ok = !r.failed && r.run_secs.length > 0;
    const latencySec = ok ? r.run_secs.reduce((a, b) => a + b, 0) / r.run_secs.length : undefined;
    return {
      ...(r.candidate ? { candidate: candidateFromProto(r.candidate) } : {}),
      ...(latencySec !== undefined ? { latencySec } : {}),
    };
  });
}

export interface BridgeScheduleSpaceOptions {
  /** Deadline for one Measure call of `n` traces; by default scaled from a 30 s timeout. */
  measureDeadlineMs?: (n: number) => number;
}

/** Deadline for measuring n traces that may each take timeoutSec to build and to run. */
export function measureDeadlineMs(n: number, timeoutSec: number): number {
  return (120 + 2 * Math.max(1, n) * timeoutSec) * 1000;
}

export class BridgeScheduleSpace implements ScheduleSpace {
  /** Wall seconds the bridge reported spending on builds and on runs, over all batches. */
  buildWallSec = 0;
  runWallSec = 0;
  private readonly measureDeadline: (n: number) => number;

  constructor(
    private readonly client: BridgeClient,
    readonly taskId: string,
    readonly mutators: MutatorInfo[],
    options: BridgeScheduleSpaceOptions = {},
  ) {
    this.measureDeadline = options.measureDeadlineMs ?? ((n) => measureDeadlineMs(n, 30));
  }

  async sampleInitial(count: number, seed: number): Promise<Candidate[]> {
    const response = await this.client.sampleInitial({ task_id: this.taskId, count, seed });
    return response.candidates.map(candidateFromProto);
  }

  async apply(traceJson: string, transformations: Transformation[], seed: number): Promise<ApplyOutcome> {
    const response = await this.client.apply({
      task_id: this.taskId,
      trace_json: traceJson,
      transformations: transformations.map(transformationToProto),
      seed,
    });
    const outcomes = response.outcomes.map(outcomeFromProto);
    if (response.candidate && response.error === 'APPLY_OK') {
      return { ok: true, candidate: candidateFromProto(response.candidate), outcomes };
    }
    return {
      ok: false,
      code: knownCode(response.error, APPLY_ERRORS, 'SCHEDULE_ERROR'),
      message: response.message,
      outcomes,
    };
  }

  async predict(traceJsons: string[]): Promise<number[]> {
    if (traceJsons.length === 0) return [];
    const response = await this.client.predict({ task_id: this.taskId, trace_json: traceJsons });
    return response.scores;
  }

  async describe(traceJsons: string[]): Promise<string[]> {
    if (traceJsons.length === 0) return [];
    const response = await this.client.describe({ task_id: this.taskId, trace_json: traceJsons });
    return response.tvmscript;
  }

  async measure(traceJsons: string[]): Promise<MeasureOutcome[]> {
    if (traceJsons.length === 0) return [];
    const response = await this.client.measure(
      { task_id: this.taskId, trace_json: traceJsons },
      { deadlineMs: this.measureDeadline(traceJsons.length) },
    );
    this.buildWallSec += response.build_wall_secs;
    this.runWallSec += response.run_wall_secs;
    return measureOutcomesFromProto(response);
  }
}
