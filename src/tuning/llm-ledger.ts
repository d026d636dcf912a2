// colt-llm-ledger.jsonl: the LLM calls a run has booked, one short line appended (and synced)
// as each call goes out. The checkpoint is written per batch, coalesced; a run killed between
// two checkpoints still resumes with every call it spent, because the ledger's last whole line
// holds the run's counts so far. A torn last line (the kill came mid-append) is skipped.
import fs from 'node:fs';
import path from 'node:path';

import { z } from 'zod';

import type { LlmBookings } from '../llm';

export const LLM_LEDGER_FILE = 'colt-llm-ledger.jsonl';

const count = z.number().int().nonnegative();
const bookingsSchema = z.object({ calls: count, perModel: z.record(z.string(), count) }).strict();

/** The ledger's last whole line; undefined when there is no ledger or no line can be used. */
export function readLlmLedger(workDir: string): LlmBookings | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(workDir, LLM_LEDGER_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    if (lines[i].trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(lines[i]);
    } catch {
      continue;
    }
    const parsed = bookingsSchema.safeParse(value);
    if (parsed.success) return parsed.data;
  }
  return undefined;
}

/** Appends bookings to a work dir's ledger, one at a time, each synced before it resolves. */
export class LlmLedger {
  private handle: fs.promises.FileHandle | undefined;
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly workDir: string) {}

  /** Resolves once this line is on disk; rejects when it could not be written. */
  append(bookings: LlmBookings): Promise<void> {
    const line = `${JSON.stringify(bookings)}\n`;
    const write = this.tail.then(async () => {
      // Appends run one after another (the tail), so one open serves them all.
      let text = line;
      if (!this.handle) {
        const handle = await fs.promises.open(path.join(this.workDir, LLM_LEDGER_FILE), 'a+', 0o600);
        // A line torn by a killed run stays a line of its own: this one starts after it.
        const { size } = await handle.stat();
        if (size > 0) {
          const last = new Uint8Array(1);
          await handle.read(last, 0, 1, size - 1);
          if (last[0] !== 0x0a) text = `\n${line}`;
        }
        this.handle = handle;
      }
      await this.handle.appendFile(text);
      await this.handle.datasync();
    });
    this.tail = write.catch(() => undefined);
    return write;
  }

  async close(): Promise<void> {
    await this.tail;
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }
}
