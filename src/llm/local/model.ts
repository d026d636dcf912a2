// A GGUF model run in-process by node-llama-cpp on the CPU: the pool's `local` provider. It
// answers the same prompts as a remote model, with the same accounting (tokens counted by the
// model's own tokenizer; no money unless the entry gives a price), and holds each answer to a
// grammar built from the turn's constraints. Loaded once, at the probe or on the first call;
// calls run one at a time on one context, whose cached prefix (the system prompt) they share.
import fs from 'node:fs';
import os from 'node:os';

import { Code, ColtError, oneLine } from '../../errors';
import { llmCallError, type LlmCallError } from '../call-error';
import type { ModelConfig } from '../config';
import type { ChatMessage, Completion, LanguageModel } from '../language-model';
import type { AnswerConstraints } from '../prompting/constraints';
import { answerGrammar } from './grammar';
import { importNodeLlamaCpp, leaseLlama, type Llama, type LlamaLease, type NodeLlamaCpp } from './runtime';

export interface LocalModelOptions {
  /** Loads node-llama-cpp; tests under jest, whose module sandbox has no import(), bring their own. */
  load?: () => Promise<NodeLlamaCpp>;
  /** llama.cpp's own warnings and errors, one line each. */
  onLog?: (line: string) => void;
  /** Cores idle now, measured before each call of a model whose entry names no threads (idleCores). */
  idle?: () => Promise<number>;
}

/** Most threads a call runs on: a model this size gains little past 4 on a CPU. */
export const MAX_CALL_THREADS = 4;

/**
 * Cores idle over the next `ms`, measured: for each core the share of that time it spent idle,
 * summed (0..cores). Taken just before a call, while the search waits for it: what other work
 * (another job, this run's builds on RPC) leaves free now, which a load average, a minute late,
 * cannot tell.
 */
export async function idleCores(ms = 100, cpus: () => os.CpuInfo[] = os.cpus): Promise<number> {
  const busyAndIdle = (): Array<[number, number]> =>
    cpus().map(({ times: t }) => [t.user + t.nice + t.sys + t.irq + t.idle, t.idle]);
  const before = busyAndIdle();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = busyAndIdle();
  let idle = 0;
  after.forEach(([total, free], i) => {
    const [total0, free0] = before[i] ?? [total, free];
    // A core that ticked nothing in the window (too short to tell) counts as busy.
    if (total > total0) idle += Math.min(1, Math.max(0, (free - free0) / (total - total0)));
  });
  return idle;
}

/**
 * Threads for one call when the entry names none: the cores idle now, at most 4, at least 1.
 * llama.cpp's threads spin while they wait for each other, so one thread more than the idle
 * cores is many times slower (its default of 4 made generation about 100x slower on a 2-core
 * machine, and 2 threads on a busy 2-core machine 4-5x slower than 1); on an idle 2-core machine
 * 2 threads answered SmolLM2's calls 1.4-1.6x faster than 1 (2.8 s to 1.8-2.1 s a call).
 */
export function callThreads(idle: number, cores: number = os.availableParallelism()): number {
  // 0.3 of a core busy (this process's timers, the bridge's idle threads) still counts as free.
  return Math.max(1, Math.min(MAX_CALL_THREADS, Math.floor(cores), Math.floor(idle + 0.3)));
}

type LlamaModel = Awaited<ReturnType<Llama['loadModel']>>;
type LlamaChat = InstanceType<NodeLlamaCpp['LlamaChat']>;
type ChatHistoryItem = Parameters<LlamaChat['generateResponse']>[0][number];

interface Loaded {
  lease: LlamaLease;
  llama: Llama;
  model: LlamaModel;
  chat: LlamaChat;
}

/** GGUF versions llama.cpp reads. */
const GGUF_VERSIONS = [2, 3];

/**
 * What is wrong with the file's GGUF header, if anything. Checked before llama.cpp reads it:
 * node-llama-cpp warns on the console about a version it does not know, which would break the
 * one line a user gets.
 */
function ggufHeaderProblem(file: string): string | undefined {
  const head = new Uint8Array(8);
  const fd = fs.openSync(file, 'r');
  let read: number;
  try {
    read = fs.readSync(fd, head, 0, head.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (read < head.length || String.fromCharCode(...head.subarray(0, 4)) !== 'GGUF') return 'not a GGUF file';
  const version = new DataView(head.buffer).getUint32(4, true);
  return GGUF_VERSIONS.includes(version) ? undefined : `GGUF version ${version}, which llama.cpp does not read`;
}

/** A stable 32-bit seed from the prompt (FNV-1a): the same question samples the same answer. */
function seedOf(messages: readonly ChatMessage[]): number {
  let h = 0x811c9dc5;
  for (const m of messages) {
    const text = `${m.role}\u0000${m.content}\u0000`;
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  }
  return h;
}

function historyOf(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  return [
    ...messages.map((m): ChatHistoryItem => (m.role === 'system' ? { type: 'system', text: m.content } : { type: 'user', text: m.content })),
    { type: 'model', response: [] },
  ];
}

/** An error's message on one line. Not `instanceof Error`: node-llama-cpp's errors may come from another realm (under jest). */
function messageOf(err: unknown): string {
  const message = typeof err === 'object' && err !== null && 'message' in err ? (err as { message: unknown }).message : err;
  return oneLine(String(message), 160);
}

export class LocalChatModel implements LanguageModel {
  readonly name: string;
  readonly config: ModelConfig;
  /** The most threads a call may run on: the entry's `threads`, else as many as callThreads allows. */
  readonly maxThreads: number;
  private readonly file: string;
  private readonly idle: () => Promise<number>;
  private readonly load: () => Promise<NodeLlamaCpp>;
  private readonly onLog: (line: string) => void;
  private loading: Promise<Loaded> | undefined;
  /** Set once loaded: the tokenizer works without waiting. */
  private ready: Loaded | undefined;
  /** The call in flight, which the next one waits for. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(config: ModelConfig, options: LocalModelOptions = {}) {
    if (config.gguf === undefined) throw new RangeError(`model "${config.name}" has no gguf file`);
    this.name = config.name;
    this.config = config;
    this.file = config.gguf;
    this.maxThreads = config.threads ?? callThreads(Infinity);
    this.idle = options.idle ?? (() => idleCores());
    this.load = options.load ?? importNodeLlamaCpp;
    this.onLog = options.onLog ?? (() => undefined);
  }

  /**
   * Loads the model now. A missing or unreadable file, or one llama.cpp cannot load, is a
   * one-line ColtError (InvalidArgument) whose one issue says why.
   */
  async probe(): Promise<void> {
    await this.loaded().catch((err: unknown) => {
      const reason = messageOf(err);
      throw new ColtError(Code.InvalidArgument, `model "${this.name}": ${this.file}: ${reason}`, { details: { issues: [reason] } });
    });
  }

  /** One answer, under the constraints' grammar when there is one; a failed call throws a ColtError with details.llm. */
  complete(messages: ChatMessage[], constraints?: AnswerConstraints): Promise<Completion> {
    const run = this.queue.then(() => this.generate(messages, constraints));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Tokens of `text` by this model's tokenizer; undefined before the model is loaded. */
  countTokens(text: string): number | undefined {
    return this.ready?.model.tokenize(text).length;
  }

  /** The threads llama.cpp ran this model's last evaluation on; undefined before it is loaded. */
  threadsInUse(): number | undefined {
    return this.ready?.chat.sequence.context.currentThreads;
  }

  async close(): Promise<void> {
    const loading = this.loading;
    this.loading = undefined;
    this.ready = undefined;
    await this.queue;
    const loaded = await loading?.catch(() => undefined);
    if (!loaded) return;
    await loaded.model.dispose();
    await loaded.lease.release();
  }

  private loaded(): Promise<Loaded> {
    this.loading ??= this.open();
    return this.loading;
  }

  private async open(): Promise<Loaded> {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(this.file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new Error(code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (code ?? 'unreadable'));
    }
    if (!stat.isFile()) throw new Error('not a file');
    const problem = ggufHeaderProblem(this.file);
    if (problem) throw new Error(problem);
    const lease = await leaseLlama(this.load, this.onLog);
    const { lib, llama } = lease;
    try {
      const model = await llama.loadModel({ modelPath: this.file });
      // The context's threads are capped by llama.maxThreads as it is now, which another
      // model's last call may have lowered: lift it for this context's own cap.
      if (llama.maxThreads !== 0 && llama.maxThreads < this.maxThreads) llama.maxThreads = this.maxThreads;
      // Up to maxThreads; each call runs on as many as llama.maxThreads allows it then (threadsNow).
      const context = await model.createContext({
        contextSize: this.config.contextTokens,
        threads: { ideal: this.maxThreads, min: 1 },
        sequences: 1,
      });
      this.ready = { lease, llama, model, chat: new lib.LlamaChat({ contextSequence: context.getSequence() }) };
      return this.ready;
    } catch (err) {
      await lease.release().catch(() => undefined);
      throw new Error(`llama.cpp cannot load it: ${messageOf(err)}`);
    }
  }

  /** This call's threads: the entry's, else the idle cores' (callThreads). */
  private async threadsNow(): Promise<number> {
    if (this.config.threads !== undefined) return this.config.threads;
    const idle = await this.idle().catch(() => 0);
    return Math.min(this.maxThreads, callThreads(idle));
  }

  private async generate(messages: ChatMessage[], constraints: AnswerConstraints | undefined): Promise<Completion> {
    const fail = (kind: 'timeout' | 'server', detail: string): LlmCallError =>
      llmCallError({ model: this.name, kind, attempts: 1 }, `${this.name}: ${kind}: ${detail}`);
    let loaded: Loaded;
    try {
      loaded = await this.loaded();
    } catch (err) {
      throw fail('server', messageOf(err));
    }
    const { llama, model, chat } = loaded;
    const history = historyOf(messages);
    const threads = await this.threadsNow();
    // One llama.cpp serves every local model of the process. A run's calls go one at a time (the
    // search waits for each), so the cap is this call's; calls of jobs sharing a daemon split it.
    llama.maxThreads = threads;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.config.timeoutMs);
    let completionTokens = 0;
    try {
      // Never free text: the turn's constraints, else any JSON at all.
      const grammar = constraints ? await llama.createGrammar({ grammar: answerGrammar(constraints) }) : await llama.getGrammarFor('json');
      // What the model reads, template included, in its own tokens.
      const promptTokens = chat.chatWrapper.generateContextState({ chatHistory: history }).contextText.tokenize(model.tokenizer).length;
      // Greedy unless the entry sets a temperature: a run replays the same answers.
      const temperature = this.config.temperature ?? 0;
      const response = await chat.generateResponse(history, {
        grammar,
        maxTokens: this.config.maxOutputTokens,
        temperature,
        ...(temperature > 0 ? { seed: seedOf(messages) } : {}),
        signal: controller.signal,
        onToken: (tokens) => (completionTokens += tokens.length),
      });
      return { text: response.response, usage: { promptTokens, completionTokens }, attempts: 1, threads };
    } catch (err) {
      if (controller.signal.aborted) throw fail('timeout', `no answer within ${this.config.timeoutMs} ms`);
      throw fail('server', messageOf(err));
    } finally {
      clearTimeout(timer);
    }
  }
}
