// What a search may spend: hardware trials, and optionally wall time read from an injected
// clock (so tests can drive time by hand).

/**
 * Why a search ended: its trial budget is spent, its time budget is spent, a whole round found
 * no schedule that was not already in the tree (and sampling none either), or it was cancelled.
 */
export type StopReason = 'trials' | 'time' | 'exhausted' | 'cancelled';

export class Budget {
  private used: number;

  /**
   * clock returns milliseconds; the time budget counts from startMs. alreadyUsed: trials spent
   * before this budget started (by the run a resumed run continues).
   */
  constructor(
    readonly maxTrials: number,
    private readonly clock: () => number,
    private readonly startMs: number,
    readonly timeBudgetSec?: number,
    alreadyUsed = 0,
  ) {
    this.used = alreadyUsed;
  }

  get trialsUsed(): number {
    return this.used;
  }

  get remainingTrials(): number {
    return Math.max(0, this.maxTrials - this.used);
  }

  /** Counts n trials; more than remain is a bug in the caller, not a soft limit. */
  consume(n: number): void {
    if (n > this.remainingTrials) {
      throw new RangeError(`consuming ${n} trials with only ${this.remainingTrials} left`);
    }
    this.used += n;
  }

  elapsedSec(): number {
    return (this.clock() - this.startMs) / 1000;
  }

  timeUp(): boolean {
    return this.timeBudgetSec !== undefined && this.elapsedSec() >= this.timeBudgetSec;
  }

  /** Why the budget says stop, if it does. */
  spent(): Extract<StopReason, 'trials' | 'time'> | undefined {
    if (this.remainingTrials === 0) return 'trials';
    if (this.timeUp()) return 'time';
    return undefined;
  }
}
