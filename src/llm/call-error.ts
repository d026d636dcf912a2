// A failed LLM call, as the one error type: a ColtError whose code follows the kind of failure,
// with details.llm saying which model failed, how, and after how many requests. The proposer
// absorbs it by falling back to the built-in proposer; a models.json, environment or probe
// problem is a ColtError with Code.InvalidArgument instead, which stops a run before tuning.
import { Code, ColtError, type ErrorDetails, type LlmErrorKind } from '../errors';

/** The code of each kind of failed call. */
const CALL_ERROR_CODES: Record<LlmErrorKind, Code> = {
  timeout: Code.DeadlineExceeded,
  rate_limit: Code.ResourceExhausted,
  server: Code.Internal,
  connection: Code.Unavailable,
  auth: Code.Unauthenticated,
  bad_request: Code.InvalidArgument,
  not_found: Code.NotFound,
  bad_response: Code.Internal,
};

/** Most characters of a server's or a model's own words quoted in a failed call's message. */
export const CALL_DETAIL_MAX = 200;

/** What a failed call's details.llm holds. */
export type LlmCallInfo = NonNullable<ErrorDetails['llm']>;

/** A ColtError for one failed LLM call: details.llm is always there. */
export type LlmCallError = ColtError & { readonly details: ErrorDetails & { llm: LlmCallInfo } };

/** One LLM call that failed, after whatever retries its kind allows; `attempts` counts its requests. */
export function llmCallError(call: LlmCallInfo, message: string): LlmCallError {
  const llm: LlmCallInfo = {
    model: call.model,
    kind: call.kind,
    attempts: call.attempts,
    ...(call.status !== undefined ? { status: call.status } : {}),
  };
  return new ColtError(CALL_ERROR_CODES[call.kind], message, { details: { llm } }) as LlmCallError;
}

/** Whether err is a failed LLM call (rather than a bug, or a problem of the set-up). */
export function isLlmCallError(err: unknown): err is LlmCallError {
  return err instanceof ColtError && err.details.llm !== undefined;
}
