// node-llama-cpp, the runtime behind gguf models. It is ESM-only with top-level await, so this
// CommonJS code reaches it through a real import(): tsconfig's "module": "node16" leaves
// `import()` as it is in CommonJS output (module "commonjs" would turn it into a require(),
// which cannot load such a module).
import type * as NodeLlamaCppModule from 'node-llama-cpp' with { 'resolution-mode': 'import' };

export type NodeLlamaCpp = typeof NodeLlamaCppModule;
export type Llama = Awaited<ReturnType<NodeLlamaCpp['getLlama']>>;

/** Loads node-llama-cpp. */
export function importNodeLlamaCpp(): Promise<NodeLlamaCpp> {
  return import('node-llama-cpp');
}

/** llama.cpp for one user, until it releases it. */
export interface LlamaLease {
  lib: NodeLlamaCpp;
  llama: Llama;
  release(): Promise<void>;
}

interface Shared {
  ready: Promise<{ lib: NodeLlamaCpp; llama: Llama }>;
  users: number;
  sinks: Set<(line: string) => void>;
}

/**
 * One llama.cpp per process, shared by every local model: its log hook is global, and with a
 * second instance loaded its messages went to the console instead. Disposed with its last user.
 */
const shared = new Map<() => Promise<NodeLlamaCpp>, Shared>();

/**
 * llama.cpp on the CPU from node-llama-cpp's prebuilt binary: never a GPU, a download or a
 * compiler. Threads are set per call (llama.maxThreads); its messages (warnings and errors) go to every user's
 * onLog, one line each.
 */
export async function leaseLlama(load: () => Promise<NodeLlamaCpp>, onLog: (line: string) => void): Promise<LlamaLease> {
  let entry = shared.get(load);
  if (!entry) {
    const sinks = new Set<(line: string) => void>();
    const ready = load().then(async (lib) => ({
      lib,
      llama: await lib.getLlama({
        gpu: false,
        build: 'never',
        skipDownload: true,
        progressLogs: false,
        // No cap until a call sets one: each call caps it at the threads it may run on now.
        maxThreads: 0,
        logLevel: lib.LlamaLogLevel.warn,
        logger: (level, message) => {
          const line = message.trim();
          if (line !== '') for (const sink of sinks) sink(`llama.cpp ${level}: ${line}`);
        },
      }),
    }));
    entry = { ready, users: 0, sinks };
    shared.set(load, entry);
    ready.catch(() => shared.delete(load));
  }
  const current = entry;
  current.users += 1;
  current.sinks.add(onLog);
  let runtime: { lib: NodeLlamaCpp; llama: Llama };
  try {
    runtime = await current.ready;
  } catch (err) {
    current.users -= 1;
    current.sinks.delete(onLog);
    throw err;
  }
  let released = false;
  return {
    ...runtime,
    release: async () => {
      if (released) return;
      released = true;
      current.users -= 1;
      current.sinks.delete(onLog);
      if (current.users === 0 && shared.get(load) === current) {
        shared.delete(load);
        await runtime.llama.dispose();
      }
    },
  };
}
