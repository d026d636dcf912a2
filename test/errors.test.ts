// ColtError.from normalises whatever is thrown; each boundary's table covers every code.
import { Metadata, status } from '@grpc/grpc-js';

import { Code, ColtError, describeError, EXIT, EXIT_CODES, oneLine } from '../src/errors';
import { SearchError } from '../src/search';

const grpcError = (code: number, details: string) =>
  Object.assign(new Error(`${code} X: ${details}`), { code, details, metadata: new Metadata() });

describe('ColtError.from', () => {
  it.each([
    [status.INVALID_ARGUMENT, Code.InvalidArgument],
    [status.FAILED_PRECONDITION, Code.InvalidArgument],
    [status.NOT_FOUND, Code.NotFound],
    [status.UNAVAILABLE, Code.Unavailable],
    [status.CANCELLED, Code.Unavailable],
    [status.DEADLINE_EXCEEDED, Code.DeadlineExceeded],
    [status.INTERNAL, Code.Internal],
    [status.UNKNOWN, Code.Internal],
  ])("maps gRPC status %i to %s, keeping only the server's message", (code, expected) => {
    const err = ColtError.from(grpcError(code, 'line one\nline two'), { rpc: 'OpenTask' });
    expect(err.code).toBe(expected);
    expect(err.message).toBe('line one line two');
    expect(err.details.rpc).toBe('OpenTask');
  });

  it('passes ColtErrors through and wraps anything else as INTERNAL (or the fallback)', () => {
    const own = new ColtError(Code.NotFound, 'x');
    expect(ColtError.from(own)).toBe(own);
    expect(ColtError.from(new TypeError('boom'))).toMatchObject({ code: 'INTERNAL', message: 'boom' });
    expect(ColtError.from('text')).toMatchObject({ code: 'INTERNAL', message: 'text' });
    expect(ColtError.from(new Error('bad'), { fallback: Code.InvalidArgument })).toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it("gives the search core's errors their codes", () => {
    expect(ColtError.from(new SearchError('INVALID_OPTIONS', 'invalid search options: x'))).toMatchObject({
      code: Code.InvalidArgument,
      message: 'invalid search options: x',
    });
    expect(ColtError.from(new SearchError('MEASUREMENT_STALLED', 'no trial'))).toMatchObject({ code: Code.Unavailable });
  });
});

describe('the boundaries', () => {
  it('maps every code to an exit code, user mistakes to 2', () => {
    for (const code of Object.values(Code)) expect(typeof EXIT_CODES[code]).toBe('number');
    expect(EXIT_CODES[Code.InvalidArgument]).toBe(EXIT.USAGE);
    expect(EXIT_CODES[Code.BridgeStopped]).toBe(EXIT.BRIDGE_STOPPED);
    expect(EXIT_CODES[Code.Interrupted]).toBe(130);
    expect(EXIT_CODES[Code.Terminated]).toBe(143);
    expect(EXIT_CODES[Code.Internal]).toBe(EXIT.FAILURE);
  });

  it('says which bridge call failed, on one line', () => {
    expect(describeError(new ColtError(Code.Internal, 'boom\n  at x', { details: { rpc: 'Measure' } }))).toBe(
      'the TVM bridge failed in Measure (INTERNAL): boom at x',
    );
    expect(describeError(new ColtError(Code.InvalidArgument, 'no such workload'))).toBe('no such workload');
    expect(oneLine('a\n\n  b\tc', 4)).toBe('a b…');
  });
});
