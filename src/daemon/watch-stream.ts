// A job's events on their way to one watcher (a Tune or Watch call), respecting back-pressure:
// when the call's buffer is full we wait for 'drain', and a watcher that falls more than
// `maxPending` events behind is dropped (its call ends with RESOURCE_EXHAUSTED, one log line)
// rather than let the daemon's memory grow for it. The job itself goes on either way.

/** What we need of a grpc-js server stream (a Node Writable in object mode). */
export interface EventSink<T> {
  write(event: T): boolean;
  end(): void;
  on(event: 'drain', listener: () => void): unknown;
}

/** Events one watcher may fall behind by before it is dropped. */
export const MAX_PENDING_EVENTS = 10_000;

export class WatchStream<T> {
  private readonly queue: T[] = [];
  private waiting = false;
  private ending = false;
  private closed = false;

  constructor(
    private readonly sink: EventSink<T>,
    /** Called once when the watcher is dropped; ends the call with an error status. */
    private readonly onDrop: (behind: number) => void,
    private readonly maxPending: number = MAX_PENDING_EVENTS,
  ) {
    sink.on('drain', () => {
      this.waiting = false;
      this.flush();
    });
  }

  /** Events queued, not yet taken by the call. */
  get pending(): number {
    return this.queue.length;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  write(event: T): void {
    if (this.closed || this.ending) return;
    if (this.queue.length >= this.maxPending) {
      const behind = this.queue.length;
      this.close();
      this.onDrop(behind);
      return;
    }
    this.queue.push(event);
    this.flush();
  }

  /** Ends the call once every queued event is written. */
  end(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    this.flush();
  }

  /** The client went away: nothing more is written. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  private flush(): void {
    while (!this.closed && !this.waiting && this.queue.length > 0) {
      if (!this.sink.write(this.queue.shift() as T)) this.waiting = true;
    }
    if (!this.closed && this.ending && this.queue.length === 0) {
      this.closed = true;
      this.sink.end();
    }
  }
}
