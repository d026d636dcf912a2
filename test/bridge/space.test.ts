// The proto conversions of the bridge's ScheduleSpace.
import {
  committedTrialsFromProto,
  measureOutcomesFromProto,
  transformationFromProto,
  transformationToProto,
} from '../../src/bridge';

describe('proto conversions', () => {
  it('round-trips transformations through the oneof', () => {
    for (const t of [
      { kind: 'mutator' as const, name: 'MutateUnroll' },
      { kind: 'setDecision' as const, instIndex: 6, value: [2, 4, 8, 2] },
    ]) {
      const wire = transformationToProto(t);
      expect(transformationFromProto({ ...wire, kind: 'mutator' in wire ? 'mutator' : 'set_decision' })).toEqual(t);
    }
  });

  it('turns measure results into outcomes, unknown error names into RUN_FAILED', () => {
    const local = { device: '', attempts: 1 };
    const outcomes = measureOutcomesFromProto({
      results: [
        { run_secs: [1e-4], error: 'MEASURE_OK', message: '', build_secs: 0.1, ...local },
        { run_secs: [], error: 'BUILD_FAILED', message: 'no', build_secs: 0.1, ...local },
        { run_secs: [], error: 'SOMETHING_NEW' as never, message: '?', build_secs: 0, ...local },
        { run_secs: [2e-4], error: 'MEASURE_OK', message: '', build_secs: 0.1, device: '127.0.0.1:9191', attempts: 2 },
        { run_secs: [], error: 'DEVICE_LOST', message: 'lost', build_secs: 0.1, device: '127.0.0.1:9192', attempts: 3 },
        { run_secs: [], error: 'SESSION_TIMEOUT', message: 'slow', build_secs: 0.1, device: '127.0.0.1:9191', attempts: 1 },
        { run_secs: [], error: 'WRONG_RESULT', message: 'differs', build_secs: 0.1, ...local },
      ],
      build_wall_secs: 1,
      run_wall_secs: 1,
    });
    expect(outcomes).toEqual([
      { ok: true, runSecs: [1e-4] },
      { ok: false, code: 'BUILD_FAILED', message: 'no' },
      { ok: false, code: 'RUN_FAILED', message: '?' },
      { ok: true, runSecs: [2e-4], device: '127.0.0.1:9191' },
      { ok: false, code: 'DEVICE_LOST', message: 'lost', device: '127.0.0.1:9192' },
      { ok: false, code: 'SESSION_TIMEOUT', message: 'slow', device: '127.0.0.1:9191' },
      { ok: false, code: 'WRONG_RESULT', message: 'differs' },
    ]);
  });

  it('turns database records into committed trials: the mean run time, none for a failure', () => {
    const candidate = { trace_json: '[]', shash: '0x1', decisions: [] };
    const trials = committedTrialsFromProto({
      records: [
        { candidate, run_secs: [1e-3, 3e-3], failed: false },
        { candidate: { ...candidate, shash: '0x2' }, run_secs: [1e10], failed: true },
        { candidate: null, run_secs: [2e-3], failed: false },
      ],
      total: 3,
    });
    expect(trials).toEqual([
      { candidate: { traceJson: '[]', shash: '0x1', decisions: [] }, latencySec: 2e-3 },
      { candidate: { traceJson: '[]', shash: '0x2', decisions: [] } },
      { latencySec: 2e-3 },
    ]);
  });
});
