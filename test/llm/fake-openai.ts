// A real OpenAI-compatible HTTP server on 127.0.0.1 for the LLM tests: /v1/models and
// /v1/chat/completions, answers scripted per model name, and a ledger of what it saw and
// billed, to compare with what the client accounted.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ChatRequest {
  model: string;
  messages: Array<{ role: string; content: string }>;
  /** 1-based count of chat requests for this model so far, this one included. */
  n: number;
  body: Record<string, unknown>;
}

/** What the server does with one request. */
export interface Reply {
  status?: number;
  /** The answer's text, for a 200. */
  content?: string;
  /** A raw body instead of a chat completion. */
  raw?: string;
  /** Error body message for non-200 statuses. */
  message?: string;
  delayMs?: number;
  /** Leave usage out of the completion. */
  noUsage?: boolean;
  headers?: Record<string, string>;
}

export type Script = (req: ChatRequest) => Reply;

export interface ModelLedger {
  /** Chat requests received. */
  requests: number;
  /** 200 answers sent. */
  answered: number;
  /** Usage billed in the 200 answers that carried usage. */
  promptTokens: number;
  completionTokens: number;
  statuses: number[];
}

export interface FakeOpenAIOptions {
  script: Script;
  /** When set, requests must carry "Authorization: Bearer <apiKey>", else 401 quoting the key sent. */
  apiKey?: string;
  /** Status for GET /v1/models (default 200). */
  modelsStatus?: number;
}

/** The token counts this server bills: a fixed rule the tests can recompute. */
export function billedTokens(messages: ChatRequest['messages'], content: string): { prompt: number; completion: number } {
  return { prompt: Math.ceil(JSON.stringify(messages).length / 4) + 7, completion: Math.ceil(content.length / 4) + 1 };
}

export class FakeOpenAI {
  readonly ledger = new Map<string, ModelLedger>();
  readonly chats: ChatRequest[] = [];
  modelListings = 0;
  private constructor(
    private readonly server: http.Server,
    readonly baseURL: string,
  ) {}

  static async start(options: FakeOpenAIOptions): Promise<FakeOpenAI> {
    let self: FakeOpenAI | undefined;
    const server = http.createServer((req, res) => {
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (text += chunk));
      req.on('end', () => {
        void self!.handle(req, res, text, options);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    self = new FakeOpenAI(server, `http://127.0.0.1:${port}/v1`);
    return self;
  }

  private entry(model: string): ModelLedger {
    let e = this.ledger.get(model);
    if (!e) {
      e = { requests: 0, answered: 0, promptTokens: 0, completionTokens: 0, statuses: [] };
      this.ledger.set(model, e);
    }
    return e;
  }

  /** A model's ledger (zeros when it was never asked). */
  seen(model: string): ModelLedger {
    return this.entry(model);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse, text: string, options: FakeOpenAIOptions): Promise<void> {
    const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      if (res.destroyed) return;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    const auth = req.headers.authorization ?? '';
    if (options.apiKey !== undefined && auth !== `Bearer ${options.apiKey}`) {
      // Like OpenAI: the message quotes the key it was given, which the client must not repeat.
      const sent = auth.replace(/^Bearer /, '');
      send(401, { error: { message: `Incorrect API key provided: ${sent}.`, type: 'invalid_request_error', code: 'invalid_api_key' } });
      return;
    }
    if (req.method === 'GET' && req.url === '/v1/models') {
      this.modelListings += 1;
      const status = options.modelsStatus ?? 200;
      if (status !== 200) send(status, { error: { message: 'no such route' } });
      else send(200, { object: 'list', data: [...this.ledger.keys()].map((id) => ({ id, object: 'model', created: 0, owned_by: 'test' })) });
      return;
    }
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      send(404, { error: { message: `no route ${req.method} ${req.url}` } });
      return;
    }
    const body = JSON.parse(text) as Record<string, unknown>;
    const model = String(body.model);
    const ledger = this.entry(model);
    ledger.requests += 1;
    const chat: ChatRequest = { model, messages: body.messages as ChatRequest['messages'], n: ledger.requests, body };
    this.chats.push(chat);
    const reply = options.script(chat);
    if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
    const status = reply.status ?? 200;
    ledger.statuses.push(status);
    if (status !== 200) {
      send(status, { error: { message: reply.message ?? `scripted ${status}`, type: 'server_error' } }, reply.headers);
      return;
    }
    if (reply.raw !== undefined) {
      send(200, reply.raw, reply.headers);
      return;
    }
    const content = reply.content ?? '';
    const billed = billedTokens(chat.messages, content);
    ledger.answered += 1;
    if (!reply.noUsage) {
      ledger.promptTokens += billed.prompt;
      ledger.completionTokens += billed.completion;
    }
    send(200, {
      id: `chatcmpl-${this.chats.length}`,
      object: 'chat.completion',
      created: 0,
      model,
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
      ...(reply.noUsage
        ? {}
        : { usage: { prompt_tokens: billed.prompt, completion_tokens: billed.completion, total_tokens: billed.prompt + billed.completion } }),
    }, reply.headers);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A base URL nothing listens on: a port that was just free. */
export async function unusedBaseURL(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/v1`;
}

/** A good answer. */
export function answer(transformations: unknown[], nextModel: string): string {
  return JSON.stringify({ transformations, next_model: nextModel });
}
