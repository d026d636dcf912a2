// A bridge can be alive and not answering (kill -STOP, a deadlock, a machine swapping): its
// process never exits and its connection never drops, so a Measure call would wait out its whole
// deadline (minutes). The supervisor therefore asks the bridge's gRPC health on a channel of its
// own every `periodMs` for as long as it runs; `failures` unanswered checks in a row (each given
// `deadlineMs`) and the bridge is declared hung: the supervisor kills it, and the run starts a new
// one as for a bridge that died.
//
// The bound: a bridge that stops answering is found within
//   periodMs + failures × deadlineMs + (failures − 1) × periodMs
// of stopping (45 s with the defaults), plus the time to start a new bridge. The deadline is
// generous: a busy bridge on a loaded machine answers slowly, and a false alarm costs a restart.

export interface HealthWatchOptions {
  periodMs: number;
  deadlineMs: number;
  failures: number;
}

export const HEALTH_WATCH: HealthWatchOptions = { periodMs: 5_000, deadlineMs: 10_000, failures: 3 };

/** How long after it stops answering a bridge is declared hung, at most. */
export function hungBoundMs(options: HealthWatchOptions = HEALTH_WATCH): number {
  return options.periodMs + options.failures * options.deadlineMs + (options.failures - 1) * options.periodMs;
}

/**
 * Probes until stopped; calls onHung once, after `failures` failed probes in a row. `probe`
 * gets its deadline and rejects when it passes (or the bridge refuses).
 */
export class HealthWatch {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private failed = 0;

  constructor(
    private readonly probe: (deadlineMs: number) => Promise<unknown>,
    private readonly onHung: (failures: number) => void,
    private readonly options: HealthWatchOptions = HEALTH_WATCH,
  ) {}

  start(): this {
    this.schedule();
    return this;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.check(), this.options.periodMs);
    // The watch never keeps a process alive by itself.
    this.timer.unref();
  }

  private async check(): Promise<void> {
    const ok = await this.probe(this.options.deadlineMs).then(
      () => true,
      () => false,
    );
    if (this.stopped) return;
    this.failed = ok ? 0 : this.failed + 1;
    if (this.failed >= this.options.failures) {
      this.stop();
      this.onHung(this.failed);
      return;
    }
    this.schedule();
  }
}
