// The answer constraints of a turn and the grammar a local model samples under: pure, no model.
import { answerConstraints } from '../../../src/llm/prompting/constraints';
import { answerGrammar, gbnfLiteral } from '../../../src/llm/local/grammar';
import { isValidTile, parseTileDetail } from '../../../src/search/directed-edit';
import { contextFor } from '../helpers';
import { GMM_DECISIONS, gmmContext } from '../local-fixtures';

describe('answer constraints', () => {
  it('offers the mutators, the valid one-step edits of each decision, and the models', () => {
    const c = answerConstraints(gmmContext(['builtin', 'smollm2-135m']), ['builtin', 'smollm2-135m']);
    expect(c.mutators).toEqual(['MutateTileSize', 'MutateComputeLocation', 'MutateUnroll', 'MutateParallel']);
    expect(c.models).toEqual(['builtin', 'smollm2-135m']);
    expect(c.maxTransformations).toBe(3);
    // inst 4 tiles a loop of extent 1: nothing to change there.
    expect(c.edits.map((e) => e.instIndex)).toEqual([6, 8, 10, 17]);
    expect(c.edits.find((e) => e.instIndex === 17)?.values).toEqual([0, 1, 2]);
    for (const edit of c.edits.filter((e) => e.instIndex !== 17)) {
      const decision = GMM_DECISIONS.find((d) => d.instIndex === edit.instIndex)!;
      const detail = parseTileDetail(decision.detail)!;
      expect(edit.values.length).toBeGreaterThan(0);
      expect(edit.values.length).toBeLessThanOrEqual(8);
      for (const v of edit.values) {
        expect(isValidTile(detail, v)).toBe(true);
        expect(v).not.toEqual(decision.value);
      }
      expect(new Set(edit.values.map((v) => JSON.stringify(v))).size).toBe(edit.values.length);
    }
  });

  it('caps the decisions and values it offers, keeping categorical ones first', () => {
    // Six categorical decisions with 12 candidates each.
    const ctx = contextFor(['a']);
    const c = answerConstraints(ctx, ['a'], { maxDecisions: 4, maxValuesPerDecision: 5, maxTransformations: 2 });
    expect(c.edits).toHaveLength(4);
    for (const e of c.edits) expect(e.values).toHaveLength(5);
    // Spread over the 11 other candidates, first and last included.
    const current = ctx.node.decisions.find((d) => d.instIndex === c.edits[0].instIndex)!.value as number;
    const others = Array.from({ length: 12 }, (_, i) => i).filter((i) => i !== current);
    expect(c.edits[0].values[0]).toBe(others[0]);
    expect(c.edits[0].values[4]).toBe(others[others.length - 1]);
    expect(c.maxTransformations).toBe(2);
  });
});

describe('answer grammar', () => {
  it('writes GBNF literals that match exactly their text', () => {
    expect(gbnfLiteral('{"a":1}')).toBe('"{\\"a\\":1}"');
    expect(gbnfLiteral('back\\slash\nnew\ttab\u0001')).toBe('"back\\\\slash\\nnew\\ttab\\x01"');
  });

  it('allows compact JSON made only of the offered choices', () => {
    const grammar = answerGrammar({
      mutators: ['MutateTileSize', 'MutateUnroll'],
      edits: [
        { instIndex: 6, values: [[2, 4, 1, 16], [1, 8, 2, 8]] },
        { instIndex: 17, values: [0, 2] },
      ],
      models: ['builtin', 'odd "name"'],
      maxTransformations: 3,
    });
    // Each decision at most once, in the order offered; mutators anywhere; three steps at most.
    expect(grammar.split('\n')).toEqual([
      'root ::= "{\\"transformations\\":[" (mutator t1x0 | edit0 t1x1 | edit1 t1x2) "]" ",\\"next_model\\":" ("\\"builtin\\"" | "\\"odd \\\\\\"name\\\\\\"\\"") "}"',
      't1x0 ::= ("," (mutator t2x0 | edit0 t2x1 | edit1 t2x2))?',
      't1x1 ::= ("," (mutator t2x1 | edit1 t2x2))?',
      't1x2 ::= ("," (mutator t2x2))?',
      't2x0 ::= ("," (mutator | edit0 | edit1))?',
      't2x1 ::= ("," (mutator | edit1))?',
      't2x2 ::= ("," (mutator))?',
      'mutator ::= "{\\"mutator\\":" ("\\"MutateTileSize\\"" | "\\"MutateUnroll\\"") "}"',
      'edit0 ::= "{\\"set_decision\\":{\\"inst\\":6,\\"value\\":" ("[2,4,1,16]" | "[1,8,2,8]") "}}"',
      'edit1 ::= "{\\"set_decision\\":{\\"inst\\":17,\\"value\\":" ("0" | "2") "}}"',
    ]);
  });

  it('leaves out what there is none of, and asks for an empty list when no step is possible', () => {
    const onlyMutators = answerGrammar({ mutators: ['MutateTileSize'], edits: [], models: ['a'], maxTransformations: 1 });
    expect(onlyMutators.split('\n')[0]).toBe('root ::= "{\\"transformations\\":[" (mutator) "]" ",\\"next_model\\":" ("\\"a\\"") "}"');
    expect(onlyMutators).not.toContain('edit');
    // Edits alone: once the last decision is set, the list ends.
    const onlyEdits = answerGrammar({ mutators: [], edits: [{ instIndex: 3, values: [1] }, { instIndex: 5, values: [2] }], models: ['a'], maxTransformations: 3 });
    expect(onlyEdits).toContain('(edit0 t1x1 | edit1) "]"');
    expect(onlyEdits).toContain('t1x1 ::= ("," (edit1))?');
    expect(onlyEdits).not.toContain('mutator');
    // No step to take: the list stays empty, and the model still only names the next model.
    expect(answerGrammar({ mutators: [], edits: [{ instIndex: 1, values: [] }], models: ['a'], maxTransformations: 3 })).toBe(
      'root ::= "{\\"transformations\\":[]" ",\\"next_model\\":" ("\\"a\\"") "}"',
    );
  });
});
