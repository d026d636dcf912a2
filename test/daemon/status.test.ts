// The daemon's table: every code answers with a gRPC status, and names itself in `colt-code`.
import { status } from '@grpc/grpc-js';

import { CODE_METADATA_KEY, toStatus } from '../../src/daemon/status';
import { Code, ColtError } from '../../src/errors';
import { SearchError } from '../../src/search';

describe('toStatus', () => {
  it('answers every code with a status and the code itself as trailing metadata', () => {
    for (const code of Object.values(Code)) {
      const s = toStatus(new ColtError(code, 'x'));
      expect(typeof s.code).toBe('number');
      expect(s.metadata.get(CODE_METADATA_KEY)).toEqual([code]);
    }
    expect(toStatus(new ColtError(Code.InvalidArgument, 'bad')).code).toBe(status.INVALID_ARGUMENT);
    expect(toStatus(new ColtError(Code.NotFound, 'no job')).code).toBe(status.NOT_FOUND);
    expect(toStatus(new ColtError(Code.FailedPrecondition, 'a TUNE job')).code).toBe(status.FAILED_PRECONDITION);
    expect(toStatus(new ColtError(Code.BridgeStopped, 'gone')).code).toBe(status.UNAVAILABLE);
  });

  it('wraps anything else: a bug is INTERNAL, a bad search option INVALID_ARGUMENT', () => {
    expect(toStatus(new TypeError('undefined is not a function'))).toMatchObject({ code: status.INTERNAL, details: 'undefined is not a function' });
    const bad = toStatus(new SearchError('INVALID_OPTIONS', 'invalid search options: maxTrials: must be >= 1'));
    expect(bad.code).toBe(status.INVALID_ARGUMENT);
    expect(bad.metadata.get(CODE_METADATA_KEY)).toEqual([Code.InvalidArgument]);
  });
});
