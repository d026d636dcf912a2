// What the pool asks of each member that answers chat prompts: an endpoint (remote/client.ts)
// or a GGUF file run in-process (local/model.ts).
import type { ModelConfig } from './config';
import type { AnswerConstraints } from './prompting/constraints';

export interface ChatMessage {
  role: 'system' | 'user';
  content: string;
}

/** What came back from one successful call. */
export interface Completion {
  text: string;
  /** As the server reported it; absent when it did not. */
  usage?: { promptTokens: number; completionTokens: number };
  /** HTTP requests made, retries included. */
  attempts: number;
  /** CPU threads the call ran on (a local model). */
  threads?: number;
}

/** One member of the pool that answers chat prompts. */
export interface LanguageModel {
  readonly name: string;
  readonly config: ModelConfig;
  /**
   * One answer; a failed call throws a ColtError with details.llm (isLlmCallError). A model that
   * can be held to `constraints` (a grammar) is; the others ignore them: the prompt says the
   * same in words.
   */
  complete(messages: ChatMessage[], constraints?: AnswerConstraints): Promise<Completion>;
  /** Before any tuning: can it answer at all? Throws a one-line ColtError (InvalidArgument). */
  probe(): Promise<void>;
  /** Frees what the model holds (memory, threads); it answers no more. */
  close?(): Promise<void>;
  /** The model's own token count of a text, once it can tell (a loaded local model). */
  countTokens?(text: string): number | undefined;
}
