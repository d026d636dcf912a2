// The health watch: a bridge is hung only after `failures` unanswered checks in a row.
import { HealthWatch, hungBoundMs, HEALTH_WATCH } from '../../src/bridge/health';

const fast = { periodMs: 1, deadlineMs: 1, failures: 3 };

it('declares a bridge hung after the failures in a row, once, and stops probing', async () => {
  // Answers, fails twice, answers (the count starts again), then never answers.
  const script = [true, false, false, true, false, false, false, false, false];
  let probes = 0;
  const hung = await new Promise<number>((resolve) => {
    new HealthWatch(
      () => (script[probes++] ?? false ? Promise.resolve() : Promise.reject(new Error('DEADLINE_EXCEEDED'))),
      resolve,
      fast,
    ).start();
  });
  expect(hung).toBe(3);
  expect(probes).toBe(7);
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(probes).toBe(7);
});

it('probes no more once stopped', async () => {
  let probes = 0;
  let first = (): void => undefined;
  const probed = new Promise<void>((resolve) => (first = resolve));
  const watch = new HealthWatch(
    () => {
      probes += 1;
      first();
      return Promise.reject(new Error('no'));
    },
    () => {
      throw new Error('a stopped watch declared a bridge hung');
    },
    fast,
  ).start();
  await probed;
  watch.stop();
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(probes).toBe(1);
});

it('states its bound: 45 s with the defaults', () => {
  expect(hungBoundMs(HEALTH_WATCH)).toBe(45_000);
});
