// WatchStream over a real Node object-mode Writable (what a grpc-js server stream is), whose
// consumer we hold and release: it waits for 'drain', keeps order, ends after the last event,
// and drops a watcher that falls too far behind.
import { Writable } from 'node:stream';

import { WatchStream } from '../../src/daemon/watch-stream';

/** A Writable that takes one event per release(), like a client that reads when it pleases. */
function slowSink() {
  const taken: number[] = [];
  const held: Array<() => void> = [];
  let ended = false;
  const sink = new Writable({
    objectMode: true,
    highWaterMark: 2,
    write(chunk: number, _enc, done) {
      taken.push(chunk);
      held.push(done);
    },
    final(done) {
      ended = true;
      done();
    },
  });
  const release = async (): Promise<void> => {
    while (held.length > 0) {
      held.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
  };
  return { sink, taken, release, ended: () => ended };
}

test('a slow watcher gets every event in order, after drain, then the end', async () => {
  const { sink, taken, release, ended } = slowSink();
  const drops: number[] = [];
  const stream = new WatchStream<number>(sink, (n) => drops.push(n), 100);
  for (let i = 0; i < 50; i++) stream.write(i);
  stream.end();
  // The sink took what its buffer allows; the rest waits with us, not in the sink.
  expect(taken.length).toBeLessThan(5);
  expect(stream.pending).toBeGreaterThan(40);
  while (!ended()) await release();
  expect(taken).toEqual([...Array(50).keys()]);
  expect(drops).toEqual([]);
  expect(stream.pending).toBe(0);
});

test('a watcher that falls more than the bound behind is dropped once; later events go nowhere', async () => {
  const { sink, taken, release } = slowSink();
  const drops: number[] = [];
  const stream = new WatchStream<number>(sink, (n) => drops.push(n), 10);
  for (let i = 0; i < 30; i++) stream.write(i);
  expect(drops).toHaveLength(1);
  expect(drops[0]).toBe(10);
  expect(stream.isClosed).toBe(true);
  await release();
  const seen = taken.length;
  stream.write(99);
  stream.end();
  await release();
  expect(taken.length).toBe(seen);
  expect(taken).not.toContain(99);
});
