// The search core's one error type. The core imports nothing from outside itself, so it cannot
// throw the house's ColtError; ColtError.from (src/errors.ts) gives each of these codes its own.

export type SearchErrorCode =
  /** Options a search cannot run with; `issues` names every offending field. */
  | 'INVALID_OPTIONS'
  /** No device measured anything for several batches in a row: the devices are gone. */
  | 'MEASUREMENT_STALLED';

export class SearchError extends Error {
  constructor(
    readonly code: SearchErrorCode,
    message: string,
    /** INVALID_OPTIONS: each problem, `field: what is wrong`. */
    readonly issues: readonly string[] = [],
  ) {
    super(message);
    this.name = 'SearchError';
  }
}
