import { meanValue, Tree } from '../../src/search/tree';
import type { Candidate } from '../../src/search/types';

const cand = (s: string): Candidate => ({ traceJson: `[${s}]`, shash: s, decisions: [] });

describe('Tree', () => {
  it('rejects a schedule structurally equal to one already in the tree', () => {
    const tree = new Tree('builtin');
    const a = tree.addChild(tree.root, cand('a'), 'builtin');
    expect(a).toBeDefined();
    expect(tree.addChild(tree.root, cand('a'), 'builtin')).toBeUndefined();
    // Anywhere in the tree, not only among siblings.
    expect(tree.addChild(a!, cand('a'), 'builtin', 'builtin')).toBeUndefined();
    expect(tree.size).toBe(1);
    expect(tree.hasShash('a')).toBe(true);
  });

  it('backs values up to the root and corrects them without extra visits', () => {
    const tree = new Tree('m');
    const a = tree.addChild(tree.root, cand('a'), 'm')!;
    const b = tree.addChild(a, cand('b'), 'm', 'm')!;
    expect(b.depth).toBe(2);
    tree.backup(b, 0.5);
    tree.adjust(b, 0.25);
    for (const n of [b, a, tree.root]) {
      expect(n.visits).toBe(1);
      expect(meanValue(n)).toBeCloseTo(0.75);
    }
  });

  it('makes a node terminal after maxFailures failed expansions', () => {
    const tree = new Tree('m');
    const a = tree.addChild(tree.root, cand('a'), 'm')!;
    for (let i = 0; i < 4; i++) tree.recordFailure(a, 5);
    expect(a.terminal).toBe(false);
    tree.recordFailure(a, 5);
    expect(a.terminal).toBe(true);
    expect(a.visits).toBe(5);
    expect(a.valueSum).toBe(0);
  });

  it('shows proposers a view with the measured latency once known', () => {
    const tree = new Tree('m');
    const a = tree.addChild(tree.root, cand('a'), 'small')!;
    a.predictedScore = 0.3;
    expect(tree.view(a)).toMatchObject({ id: a.id, depth: 1, traceJson: '[a]', model: 'small', predictedScore: 0.3 });
    expect(tree.view(a).measuredLatency).toBeUndefined();
    a.measured = { status: 'ok', latencySec: 0.002 };
    expect(tree.view(a).measuredLatency).toBe(0.002);
    expect(() => tree.view(tree.root)).toThrow();
  });

  it('replaces a fresh leaf in place, keeping its statistics and retiring its schedule', () => {
    const tree = new Tree('m');
    const a = tree.addChild(tree.root, cand('a'), 'm')!;
    const b = tree.addChild(a, cand('b'), 'small', 'small')!;
    const c = tree.addChild(a, cand('c'), 'small', 'small')!;
    tree.backup(b, 0.2);
    const d = tree.replace(b, cand('d'), 'small', 'big')!;
    expect(a.children).toEqual([d, c]);
    expect(d).toMatchObject({ parent: a, depth: 2, visits: 1, valueSum: 0.2, expandedBy: 'big', model: 'small' });
    expect(d.id).toBeGreaterThan(c.id);
    expect(tree.size).toBe(3);
    expect(tree.schedules()).toEqual([a, c, d]);
    // The replaced schedule never comes back, and a known one cannot take a place.
    expect(tree.addChild(a, cand('b'), 'm')).toBeUndefined();
    expect(tree.replace(c, cand('a'), 'm')).toBeUndefined();
    expect(() => tree.replace(b, cand('e'), 'm')).toThrow();
    expect(() => tree.replace(a, cand('e'), 'm')).toThrow(/children/);
  });
});
