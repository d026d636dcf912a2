// The grammar a local model samples under (llama.cpp's GBNF): one compact JSON answer whose every
// choice is one the constraints allow. Compact, because each space or newline a 135M model may
// write is a token it will write; enumerated, because a free string is one it will ramble in.
import type { AnswerConstraints } from '../prompting/constraints';

/** A GBNF string literal that matches exactly `text`. */
export function gbnfLiteral(text: string): string {
  let out = '"';
  for (const ch of text) {
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch < ' ') out += `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** One of these JSON values, written compactly. */
function oneOf(values: readonly unknown[]): string {
  return `(${values.map((v) => gbnfLiteral(JSON.stringify(v))).join(' | ')})`;
}

/**
 * `{"transformations":[...],"next_model":"..."}` with 1 to maxTransformations steps, each a
 * `{"mutator":NAME}` or a `{"set_decision":{"inst":I,"value":V}}` from the constraints. undefined
 * when the constraints leave no step to take.
 */
export function answerGrammar(c: AnswerConstraints): string | undefined {
  const rules: string[] = [];
  const steps: string[] = [];
  if (c.mutators.length > 0) {
    rules.push(`mutator ::= ${gbnfLiteral('{"mutator":')} ${oneOf(c.mutators)} "}"`);
    steps.push('mutator');
  }
  const edits = c.edits.filter((e) => e.values.length > 0);
  if (edits.length > 0) {
    edits.forEach((e, i) => {
      rules.push(`edit${i} ::= ${gbnfLiteral(`{"inst":${e.instIndex},"value":`)} ${oneOf(e.values)} "}"`);
    });
    rules.push(`edit ::= ${gbnfLiteral('{"set_decision":')} (${edits.map((_, i) => `edit${i}`).join(' | ')}) "}"`);
    steps.push('edit');
  }
  if (steps.length === 0 || c.maxTransformations < 1) return undefined;
  const more = c.maxTransformations > 1 ? ` ("," step){0,${c.maxTransformations - 1}}` : '';
  const next = c.models.length > 0 ? ` ${gbnfLiteral(',"next_model":')} ${oneOf(c.models)}` : '';
  return [
    `root ::= ${gbnfLiteral('{"transformations":[')} step${more} "]"${next} "}"`,
    `step ::= ${steps.join(' | ')}`,
    ...rules,
  ].join('\n');
}
