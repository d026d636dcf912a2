// Answers already paid for, keyed by (model, prompt): asking the same model the same question
// twice costs nothing the second time. In memory, for one run, least recently used out first.
import { createHash } from 'node:crypto';

import type { ChatMessage } from './language-model';

export class ResponseCache {
  private readonly entries = new Map<string, string>();

  /** capacity 0 turns the cache off. */
  constructor(readonly capacity = 1000) {}

  /** The key: a digest of the model and the exact messages, so long prompts are not kept twice. */
  static key(model: string, messages: readonly ChatMessage[]): string {
    return createHash('sha256').update(JSON.stringify([model, messages])).digest('hex');
  }

  get(key: string): string | undefined {
    const text = this.entries.get(key);
    if (text !== undefined) {
      // Re-insert: Map keeps insertion order, so the oldest entry is the least recently used.
      this.entries.delete(key);
      this.entries.set(key, text);
    }
    return text;
  }

  set(key: string, text: string): void {
    if (this.capacity <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, text);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
  }

  get size(): number {
    return this.entries.size;
  }
}
