// The daemon's TuneRequest.bucket goes through the same checks as `colt tune --bucket`: a known
// name reaches the options, an unknown one or one beside `models` / `no_llm` is refused by name.
// TuneRequest.cost_model_file is `colt tune --cost-model-file`: empty leaves the default.
import { rawTuneOptions } from '../../src/daemon/server';
import type { TuneRequest__Output } from '../../src/generated/colt/v1/TuneRequest';
import { formatIssue, parseTuneOptions } from '../../src/options/tune';

/** A request as proto-loader hands it over: every field present, unset ones at their defaults. */
function request(fields: Partial<TuneRequest__Output>): TuneRequest__Output {
  return {
    workload: 'GMM:0', target: '', work_dir: '', cost_model: '', models: '', no_llm: false, rpc_tracker: '', rpc_key: '',
    resume: false, tuning_records: '', name: '', force: false, bucket: '', cost_model_file: '',
    ...fields,
  } as TuneRequest__Output;
}

function parse(fields: Partial<TuneRequest__Output>) {
  return parseTuneOptions(rawTuneOptions(request(fields)), { cores: 2 });
}

describe('TuneRequest.bucket', () => {
  it('names a bucket, or leaves the default when empty', () => {
    const named = parse({ bucket: 'offline-3' });
    expect(named.ok && named.options.bucket).toBe('offline-3');
    const unset = parse({});
    expect(unset.ok && unset.options.bucket).toBeUndefined();
  });

  it('refuses an unknown name, and a bucket beside models or no_llm', () => {
    const issues = (fields: Partial<TuneRequest__Output>) => {
      const parsed = parse(fields);
      return parsed.ok ? [] : parsed.issues.map(formatIssue);
    };
    expect(issues({ bucket: 'online' })).toEqual(['--bucket: must be one of offline, offline-3 (got "online")']);
    expect(issues({ bucket: 'offline', models: '/m/models.json' })).toEqual(['--bucket: cannot be combined with --models']);
    expect(issues({ bucket: 'offline', no_llm: true })).toEqual(['--no-llm: cannot be combined with --bucket']);
  });
});

describe('TuneRequest.cost_model_file', () => {
  it('names a file or none, and leaves the default when empty', () => {
    const none = parse({ cost_model_file: 'none' });
    expect(none.ok && none.options.costModelFile).toBe('none');
    const file = parse({ cost_model_file: '/m/model.npz' });
    expect(file.ok && file.options.costModelFile).toBe('/m/model.npz');
    const unset = parse({});
    expect(unset.ok && unset.options.costModelFile).toBeUndefined();
  });
});
