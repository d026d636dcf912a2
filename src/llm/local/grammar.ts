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
 * `{"mutator":NAME}` or a `{"set_decision":{"inst":I,"value":V}}` from the constraints. A decision
 * is set at most once per answer, its edits in the order the constraints list them (ascending
 * inst): a second edit of the same decision would be a no-op or undo the first, and small models
 * wrote such answers. Mutators may come anywhere. When the constraints leave no step to take,
 * the list is empty: the model still only names the next model, never writes free text.
 *
 * Rule `tPxJ`: the rest of a list that holds P steps already and whose next edit may only set the
 * J-th decision or a later one.
 */
export function answerGrammar(c: AnswerConstraints): string {
  const next = c.models.length > 0 ? ` ${gbnfLiteral(',"next_model":')} ${oneOf(c.models)}` : '';
  const edits = c.edits.filter((e) => e.values.length > 0);
  const max = c.maxTransformations;
  if ((c.mutators.length === 0 && edits.length === 0) || max < 1) return `root ::= ${gbnfLiteral('{"transformations":[]')}${next} "}"`;

  const rules: string[] = [];
  if (c.mutators.length > 0) rules.push(`mutator ::= ${gbnfLiteral('{"mutator":')} ${oneOf(c.mutators)} "}"`);
  edits.forEach((e, i) => {
    rules.push(`edit${i} ::= ${gbnfLiteral(`{"set_decision":{"inst":${e.instIndex},"value":`)} ${oneOf(e.values)} "}}"`);
  });
  /** The rest after a step that leaves P steps taken and edits from J on. */
  const more = (j: number) => c.mutators.length > 0 || j < edits.length;
  const rest = (p: number, j: number) => (p >= max || !more(j) ? '' : ` t${p}x${j}`);
  const choices = (p: number, j: number): string[] => [
    ...(c.mutators.length > 0 ? [`mutator${rest(p + 1, j)}`] : []),
    ...edits.map((_, k) => k).filter((k) => k >= j).map((k) => `edit${k}${rest(p + 1, k + 1)}`),
  ];
  const lists: string[] = [];
  for (let p = 1; p < max; p++) {
    for (let j = 0; j <= edits.length; j++) if (more(j)) lists.push(`t${p}x${j} ::= ("," (${choices(p, j).join(' | ')}))?`);
  }
  return [
    `root ::= ${gbnfLiteral('{"transformations":[')} (${choices(0, 0).join(' | ')}) "]"${next} "}"`,
    ...lists,
    ...rules,
  ].join('\n');
}
