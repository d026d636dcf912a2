// SIGINT/SIGTERM for the long-running commands (tune, bench, daemon): the first asks the work
// to wind down (callbacks), the second leaves at once with 130/143 (the supervisors' exit hooks
// stop the bridges).
import type { Logger } from '../log';
import { EXIT } from '../errors';

export type StopSignal = 'SIGINT' | 'SIGTERM';

export function exitCodeFor(sig: StopSignal | undefined): number {
  if (sig === 'SIGINT') return EXIT.INTERRUPTED;
  if (sig === 'SIGTERM') return EXIT.TERMINATED;
  return EXIT.OK;
}

export class Interrupts {
  received: StopSignal | undefined;
  private readonly callbacks: Array<(sig: StopSignal) => void> = [];
  private readonly handler = (sig: StopSignal): void => {
    if (this.received) {
      this.logger?.warn('interrupted again: stopping now');
      process.exit(exitCodeFor(sig));
    }
    this.received = sig;
    if (this.firstMessage) this.logger?.warn(`${sig}: ${this.firstMessage}`);
    for (const cb of this.callbacks) cb(sig);
  };

  /** firstMessage: what the first signal does, logged after its name. */
  constructor(
    private readonly logger?: Logger,
    private readonly firstMessage?: string,
  ) {}

  install(): void {
    process.on('SIGINT', this.handler);
    process.on('SIGTERM', this.handler);
  }

  uninstall(): void {
    process.removeListener('SIGINT', this.handler);
    process.removeListener('SIGTERM', this.handler);
  }

  /** Called on the first signal; at once if it already came. */
  onInterrupt(cb: (sig: StopSignal) => void): void {
    this.callbacks.push(cb);
    if (this.received) cb(this.received);
  }
}
