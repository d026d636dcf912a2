// An in-memory ScheduleSpace for the search core's tests. A trace is a JSON array of integers
// in [0, values) (think tile choices); its "true" latency is a smooth bowl around a fixed
// optimum, the cost model is a noisy but monotone proxy of it, and structural identity is the
// JSON itself.
import { Rng } from '../../src/search/rng';
import type {
  ApplyOutcome,
  Candidate,
  Decision,
  MeasureOutcome,
  MutatorInfo,
  ScheduleSpace,
  Transformation,
} from '../../src/search/types';

export interface FakeSpaceOptions {
  dims?: number;
  values?: number;
  /** Traces the target's postprocessors reject (never sampled, apply fails). */
  invalid?: (xs: number[]) => boolean;
  /** Traces that fail to build when measured. */
  buildFails?: (xs: number[]) => boolean;
  /** Called on every measure batch before it returns (advance a fake clock, throw...). */
  onMeasure?: (traces: string[], call: number) => void;
  /** Trials whose device is lost under them, by batch number (from 1). */
  lose?: (xs: number[], call: number) => boolean;
  /** Devices that run a batch's trials in turn; none: the trials name no device. */
  devices?: string[];
  mutators?: MutatorInfo[];
}

export const FAKE_MUTATORS: MutatorInfo[] = [
  { name: 'MutateTileSize', probability: 0.9 },
  { name: 'MutateUnroll', probability: 0.1 },
];

export class FakeSpace implements ScheduleSpace {
  readonly mutators: MutatorInfo[];
  readonly dims: number;
  readonly values: number;
  readonly measured: string[] = [];
  readonly measureBatches: string[][] = [];
  readonly predictBatches: string[][] = [];
  readonly applied: Array<{ traceJson: string; transformations: Transformation[] }> = [];
  private readonly invalid: (xs: number[]) => boolean;
  private readonly buildFails: (xs: number[]) => boolean;
  private readonly onMeasure?: (traces: string[], call: number) => void;
  private readonly lose: (xs: number[], call: number) => boolean;
  private readonly devices: string[];
  private readonly optimum: number[];

  constructor(options: FakeSpaceOptions = {}) {
    this.dims = options.dims ?? 6;
    this.values = options.values ?? 12;
    this.invalid = options.invalid ?? (() => false);
    this.buildFails = options.buildFails ?? (() => false);
    this.onMeasure = options.onMeasure;
    this.lose = options.lose ?? (() => false);
    this.devices = options.devices ?? [];
    this.mutators = options.mutators ?? FAKE_MUTATORS;
    this.optimum = Array.from({ length: this.dims }, (_, i) => (i * 5 + 3) % this.values);
  }

  /** The ground truth the search is trying to find: lowest at the optimum. */
  latency(xs: number[]): number {
    let d = 0;
    xs.forEach((x, i) => (d += (x - this.optimum[i]) ** 2));
    return 1e-3 * (1 + d / this.dims);
  }

  candidate(xs: number[]): Candidate {
    const traceJson = JSON.stringify(xs);
    const decisions: Decision[] = xs.map((x, i) => ({
      instIndex: i,
      kind: 'SampleCategorical',
      value: x,
      detail: { candidates: Array.from({ length: this.values }, (_, v) => v) },
    }));
    return { traceJson, shash: traceJson, decisions };
  }

  async sampleInitial(count: number, seed: number): Promise<Candidate[]> {
    const rng = new Rng(seed);
    const out: Candidate[] = [];
    for (let i = 0; i < count; i++) {
      const xs = Array.from({ length: this.dims }, () => rng.int(this.values));
      if (!this.invalid(xs)) out.push(this.candidate(xs));
    }
    return out;
  }

  async apply(traceJson: string, transformations: Transformation[], seed: number): Promise<ApplyOutcome> {
    this.applied.push({ traceJson, transformations });
    const rng = new Rng(seed);
    const xs = JSON.parse(traceJson) as number[];
    const outcomes = [];
    for (const t of transformations) {
      if (t.kind === 'setDecision') {
        const v = t.value;
        if (t.instIndex < 0 || t.instIndex >= this.dims || typeof v !== 'number' || v < 0 || v >= this.values) {
          return { ok: false, code: 'INVALID_DECISION', message: 'bad edit', outcomes };
        }
        xs[t.instIndex] = v;
      } else if (t.name === 'MutateTileSize') {
        // Like MetaSchedule's mutator: re-sample one decision (here: any dim but the last).
        xs[rng.int(this.dims - 1)] = rng.int(this.values);
      } else if (t.name === 'MutateUnroll') {
        xs[this.dims - 1] = rng.int(this.values);
      } else {
        return { ok: false, code: 'UNKNOWN_TRANSFORMATION', message: t.name, outcomes };
      }
      outcomes.push({ applied: true });
    }
    if (this.invalid(xs)) return { ok: false, code: 'POSTPROC_FAILED', message: 'invalid', outcomes };
    return { ok: true, candidate: this.candidate(xs), outcomes };
  }

  async predict(traceJsons: string[]): Promise<number[]> {
    this.predictBatches.push(traceJsons);
    return traceJsons.map((t) => {
      const xs = JSON.parse(t) as number[];
      // Deterministic noise of ±10%, so the proxy ranks mostly but not exactly like the truth.
      const noise = 0.9 + 0.2 * new Rng(hash(t)).next();
      return (1e-3 / this.latency(xs)) * noise;
    });
  }

  async measure(traceJsons: string[]): Promise<MeasureOutcome[]> {
    this.measureBatches.push(traceJsons);
    const call = this.measureBatches.length;
    this.onMeasure?.(traceJsons, call);
    return traceJsons.map((t, i): MeasureOutcome => {
      const xs = JSON.parse(t) as number[];
      const device = this.devices.length > 0 ? { device: this.devices[i % this.devices.length] } : {};
      if (this.lose(xs, call)) return { ok: false, code: 'DEVICE_LOST', message: 'connection reset', ...device };
      // Only trials that ran (or failed to build) count as measured.
      this.measured.push(t);
      if (this.buildFails(xs)) return { ok: false, code: 'BUILD_FAILED', message: 'no compiler', ...device };
      const l = this.latency(xs);
      return { ok: true, runSecs: [l * 0.99, l, l * 1.01], ...device };
    });
  }
}

function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A clock tests move by hand. */
export function fakeClock(startMs = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = startMs;
  return { now: () => t, advance: (ms) => (t += ms) };
}
