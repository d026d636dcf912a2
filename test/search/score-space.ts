// A ScheduleSpace whose cost model the proposers steer, for tests of course alteration: a trace
// is {n, s}, its score is s, a directed edit of decision 0 moves s by its value, and each named
// mutator moves s by a fixed step. So a scripted proposer decides exactly which children regress.
import type { ApplyOutcome, Candidate, MeasureOutcome, MutatorInfo, ScheduleSpace, Transformation } from '../../src/search/types';

export class ScoreSpace implements ScheduleSpace {
  readonly mutators: MutatorInfo[];
  readonly measured: string[] = [];
  private n = 0;

  /** steps: each mutator's move of the score. */
  constructor(private readonly steps: Record<string, number> = {}) {
    this.mutators = Object.keys(steps).map((name) => ({ name, probability: 1 }));
  }

  private make(s: number): Candidate {
    const traceJson = JSON.stringify({ n: this.n++, s });
    return { traceJson, shash: traceJson, decisions: [] };
  }

  async sampleInitial(count: number): Promise<Candidate[]> {
    return Array.from({ length: count }, (_, i) => this.make(0.5 + i * 0.01));
  }

  async apply(traceJson: string, ts: Transformation[]): Promise<ApplyOutcome> {
    let { s } = JSON.parse(traceJson) as { s: number };
    for (const t of ts) {
      if (t.kind === 'setDecision' && typeof t.value === 'number') s += t.value;
      else if (t.kind === 'mutator' && Object.hasOwn(this.steps, t.name)) s += this.steps[t.name];
      else return { ok: false, code: 'UNKNOWN_TRANSFORMATION', message: 'scripted space', outcomes: [] };
    }
    return { ok: true, candidate: this.make(s), outcomes: ts.map(() => ({ applied: true })) };
  }

  async predict(traceJsons: string[]): Promise<number[]> {
    return traceJsons.map((t) => (JSON.parse(t) as { s: number }).s);
  }

  async measure(traceJsons: string[]): Promise<MeasureOutcome[]> {
    this.measured.push(...traceJsons);
    return traceJsons.map((t) => ({ ok: true, runSecs: [1 / (2 + (JSON.parse(t) as { s: number }).s)] }));
  }
}
