// Every number a command or a daemon request takes has both ends bounded: zero (where it means
// nothing), negative, absurdly large, not a number and infinite values are each refused in one
// line naming the flag, and the largest allowed value passes.
import { parseBenchOptions } from '../../src/options/bench';
import { LIMITS } from '../../src/options/fields';
import { formatIssue, parseTuneOptions } from '../../src/options/tune';

const ctx = { cores: 4 };
const TRACKER = { rpcTracker: '127.0.0.1:9190', rpcKey: 'cpu' };

/** Each numeric `colt tune` option: its flag, its smallest and largest value, what else it needs. */
const TUNE_NUMBERS: Array<[string, string, number, number, Record<string, unknown>]> = [
  ['trials', '--trials', 1, LIMITS.trials, {}],
  ['perIter', '--per-iter', 1, LIMITS.perIter, {}],
  ['seed', '--seed', 0, LIMITS.seed, {}],
  ['number', '--number', 1, LIMITS.number, {}],
  ['repeat', '--repeat', 1, LIMITS.repeat, {}],
  ['minRepeatMs', '--min-repeat-ms', 0, LIMITS.minRepeatMs, {}],
  ['timeout', '--timeout', Number.MIN_VALUE, LIMITS.timeout, {}],
  ['llmBudget', '--llm-budget', 0, LIMITS.llmBudget, {}],
  ['rpcPriority', '--rpc-priority', 0, LIMITS.rpcPriority, TRACKER],
  ['rpcSessionTimeout', '--rpc-session-timeout', Number.MIN_VALUE, LIMITS.rpcSessionTimeout, TRACKER],
  ['maxBridgeRestarts', '--max-bridge-restarts', 0, LIMITS.maxBridgeRestarts, {}],
];

/** Values no option takes; 0 and below only where the option's minimum is above them. */
function badValues(min: number, max: number): unknown[] {
  const values: unknown[] = ['-1', '-1e300', '1e300', 'NaN', 'Infinity', '-Infinity', String(max + 1), 'ten', '', -5, 1e300, NaN, Infinity];
  if (min > 0) values.push('0', 0);
  return values;
}

function tuneIssues(raw: Record<string, unknown>): string[] {
  const parsed = parseTuneOptions({ workload: 'GMM:0', ...raw }, ctx);
  return parsed.ok ? [] : parsed.issues.map(formatIssue);
}

describe('colt tune (and the daemon Tune request) bounds', () => {
  describe.each(TUNE_NUMBERS)('%s', (key, flag, min, max, extra) => {
    it.each(badValues(min, max))('refuses %p in one line', (value) => {
      const issues = tuneIssues({ ...extra, [key]: value });
      expect(issues).toHaveLength(1);
      expect(issues[0]).toMatch(new RegExp(`^${flag}: must be an? (integer|number) .*<= ${max}`));
      expect(issues[0]).not.toContain('\n');
    });

    it('takes its largest value, as a flag string and as a request number', () => {
      expect(tuneIssues({ ...extra, [key]: String(max) })).toEqual([]);
      expect(tuneIssues({ ...extra, [key]: max })).toEqual([]);
      expect(tuneIssues({ ...extra, [key]: min })).toEqual([]);
    });
  });

  it('bounds num-cores of a JSON target', () => {
    expect(tuneIssues({ target: '{"kind":"llvm","num-cores":1e9}' })).toEqual(['--target: num-cores must be an integer >= 1 and <= 4096']);
  });
});

describe('colt bench bounds', () => {
  const BENCH_NUMBERS: Array<[string, string, number, number]> = [
    ['seeds', '--seeds', 1, LIMITS.benchSeeds],
    ['perIter', '--per-iter', 1, LIMITS.perIter],
    ['number', '--number', 1, LIMITS.number],
    ['repeat', '--repeat', 1, LIMITS.repeat],
    ['minRepeatMs', '--min-repeat-ms', 0, LIMITS.minRepeatMs],
    ['timeout', '--timeout', Number.MIN_VALUE, LIMITS.timeout],
    ['runTimeout', '--run-timeout', Number.MIN_VALUE, LIMITS.runTimeout],
  ];

  it.each(BENCH_NUMBERS.flatMap(([key, flag, min, max]) => badValues(min, max).map((v) => [key, flag, v] as const)))(
    '%s %p is refused in one line',
    (key, flag, value) => {
      const parsed = parseBenchOptions({ [key]: value }, ctx);
      expect(parsed.ok).toBe(false);
      if (parsed.ok) return;
      expect(parsed.issues).toHaveLength(1);
      expect(parsed.issues[0].startsWith(`${flag}: must be`)).toBe(true);
    },
  );

  it.each(['0', '-16', '1e300', 'NaN', 'Infinity', String(LIMITS.trials + 1), '16,1e300'])('budgets %p are refused', (budgets) => {
    const parsed = parseBenchOptions({ budgets }, ctx);
    expect(parsed.ok || parsed.issues).toEqual([expect.stringMatching(/^--budgets: must be positive trial counts up to 100000/)]);
  });

  it('refuses more than 64 budgets', () => {
    const budgets = Array.from({ length: 65 }, (_, i) => String(i + 1)).join(',');
    const parsed = parseBenchOptions({ budgets }, ctx);
    expect(parsed.ok || parsed.issues).toEqual([expect.stringMatching(/^--budgets: must name at most 64 budgets/)]);
  });
});
