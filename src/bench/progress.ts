// Progress of a long bench on stderr: on a terminal one line redrawn in place (a bar over all
// trials of all runs, the run in flight, elapsed time and an estimate of what is left); to a
// file or pipe, one line when each run starts and ends, so that a log stays readable.

export interface ProgressSink {
  write(text: string): void;
  isTTY?: boolean;
}

const BAR = 28;

export function formatDuration(sec: number): string {
  const s = Math.max(0, Math.round(sec));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

export function bar(fraction: number, width = BAR): string {
  const f = Math.min(1, Math.max(0, fraction));
  const full = Math.floor(f * width);
  return `${'█'.repeat(full)}${full < width ? '░'.repeat(width - full) : ''}`;
}

export class Progress {
  private runIndex = 0;
  private label = '';
  private trials = 0;
  private finishedRuns = 0;
  private finishedSec = 0;
  private runStarted = 0;
  private readonly started: number;

  constructor(
    private readonly sink: ProgressSink,
    private readonly totalRuns: number,
    private readonly trialsPerRun: number,
    private readonly now: () => number = () => Date.now() / 1000,
  ) {
    this.started = now();
  }

  startRun(label: string): void {
    this.runIndex += 1;
    this.label = label;
    this.trials = 0;
    this.runStarted = this.now();
    if (this.sink.isTTY) this.draw();
    else this.sink.write(`bench: run ${this.runIndex}/${this.totalRuns}: ${label}\n`);
  }

  /** Trials recorded so far by the run in flight. */
  update(trials: number): void {
    if (trials === this.trials) return;
    this.trials = Math.min(trials, this.trialsPerRun);
    if (this.sink.isTTY) this.draw();
  }

  endRun(outcome: string): void {
    const took = this.now() - this.runStarted;
    this.finishedRuns += 1;
    this.finishedSec += took;
    this.trials = this.trialsPerRun;
    if (this.sink.isTTY) this.clear();
    this.sink.write(`bench: run ${this.runIndex}/${this.totalRuns}: ${this.label}: ${outcome} (${formatDuration(took)})\n`);
  }

  /** A phase after the runs (re-measuring, writing the report). */
  phase(text: string): void {
    if (this.sink.isTTY) this.clear();
    this.sink.write(`bench: ${text}\n`);
  }

  private eta(): string {
    if (this.finishedRuns === 0) return '';
    const perRun = this.finishedSec / this.finishedRuns;
    const inFlight = this.trialsPerRun > 0 ? this.trials / this.trialsPerRun : 0;
    const left = (this.totalRuns - this.finishedRuns - inFlight) * perRun;
    return ` · ~${formatDuration(left)} left`;
  }

  private draw(): void {
    const total = this.totalRuns * this.trialsPerRun;
    const done = this.finishedRuns * this.trialsPerRun + (this.runIndex > this.finishedRuns ? this.trials : 0);
    const line =
      `bench ${bar(total > 0 ? done / total : 0)} run ${this.runIndex}/${this.totalRuns} ${this.label} ` +
      `trial ${this.trials}/${this.trialsPerRun} · ${formatDuration(this.now() - this.started)}${this.eta()}`;
    this.sink.write(`\r\x1b[K${line}`);
  }

  private clear(): void {
    this.sink.write('\r\x1b[K');
  }
}
