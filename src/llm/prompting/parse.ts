// Reading an LLM's answer. Models wrap JSON in prose and fences, misspell mutator names and
// invent models; we take what is usable and list the rest as issues, each one an error in the
// model's account. An answer is only ever data: it is parsed with JSON.parse, matched against
// known names and checked value by value. Nothing in it is evaluated, run, or used as a path.
import { oneLine } from '../../errors';
import { isValidTile, parseTileDetail, type Decision, type MutatorInfo, type Transformation } from '../../search';

export interface ParseLimits {
  /** Longer answers are ignored whole. */
  maxAnswerBytes: number;
  /** Transformations past this many are dropped. */
  maxTransformations: number;
  /** Candidate '{' positions tried when the answer is not plain JSON. */
  maxJsonStarts: number;
}

export const PARSE_LIMITS: ParseLimits = { maxAnswerBytes: 16 * 1024, maxTransformations: 8, maxJsonStarts: 32 };

export interface ParseInput {
  text: string;
  mutators: readonly MutatorInfo[];
  /** The acting node's decisions: what a set_decision may target. */
  decisions: readonly Decision[];
  models: readonly string[];
  limits?: Partial<ParseLimits>;
}

export interface ParsedAnswer {
  /** Only the usable ones, in the answer's order. */
  transformations: Transformation[];
  /** A known model, when the answer named one we could match. */
  nextModel?: string;
  /** The answer held a JSON object at all. */
  json: boolean;
  /** Everything skipped or wrong, in words a model can learn from in its next prompt. */
  issues: string[];
}

/** Lower-case letters and digits only: "Mutate_Tile Size" and "mutatetilesize" are one name. */
function squash(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/** A mutator name without namespace and "mutate": "meta_schedule.MutateTileSize" → "tilesize". */
function mutatorKey(s: string): string {
  const last = s.slice(s.lastIndexOf('.') + 1);
  return squash(last).replace(/^mutate/, '');
}

/**
 * A bounded rendering of any JSON value. Not JSON.stringify: that recurses without limit, and
 * an answer nested 10,000 deep would overflow the stack.
 */
function preview(x: unknown, depth = 0): string {
  if (typeof x === 'string') return depth === 0 ? x : JSON.stringify(x.slice(0, 40));
  if (typeof x !== 'object' || x === null) return String(x);
  if (depth >= 3) return Array.isArray(x) ? '[…]' : '{…}';
  if (Array.isArray(x)) {
    const items = x.slice(0, 8).map((v) => preview(v, depth + 1));
    return `[${items.join(',')}${x.length > 8 ? ',…' : ''}]`;
  }
  const entries = Object.entries(x);
  const shown = entries.slice(0, 8).map(([k, v]) => `${JSON.stringify(k.slice(0, 40))}:${preview(v, depth + 1)}`);
  return `{${shown.join(',')}${entries.length > 8 ? ',…' : ''}}`;
}

/** How a name or value appears in an issue: short, one line, quoted. */
function quote(x: unknown): string {
  return JSON.stringify(oneLine(preview(x), 40));
}

/**
 * Matches a name leniently against candidates by a key function: the same key, else the only
 * candidate whose key starts with it (at least 3 characters, so "t" matches nothing). undefined
 * when nothing or more than one candidate fits.
 */
function lenientMatch(name: string, candidates: readonly string[], key: (s: string) => string): string | undefined {
  const wanted = key(name);
  if (wanted === '') return undefined;
  const exact = candidates.filter((c) => key(c) === wanted);
  if (exact.length === 1) return exact[0];
  if (exact.length > 1) return undefined;
  if (wanted.length < 3) return undefined;
  const prefixed = candidates.filter((c) => key(c).startsWith(wanted));
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** The mutator a name means ("mutate_tile_size", "tile size", "MutateTile"), if exactly one. */
export function matchMutator(name: string, mutators: readonly MutatorInfo[]): string | undefined {
  return lenientMatch(
    name,
    mutators.map((m) => m.name),
    mutatorKey,
  );
}

/** The model a name means (case, punctuation and spacing ignored; a unique prefix is enough). */
export function matchModel(name: string, models: readonly string[]): string | undefined {
  return lenientMatch(name, models, squash);
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** The end (exclusive) of the balanced {...} that starts at `start`, or -1. Strings are skipped. */
function balancedEnd(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') {
      inString = true;
    } else if (ch === '{') {
      depth++;
    } else if (ch === '}') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

/** The body of the first ``` fence (its language tag dropped), or '' when there is none. */
function firstFence(text: string): string {
  const open = text.indexOf('```');
  if (open < 0) return '';
  const close = text.indexOf('```', open + 3);
  if (close < 0) return '';
  return text.slice(open + 3, close).replace(/^[a-zA-Z]*/, '').trim();
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The answer's JSON object: the whole text, else the inside of a ```json fence, else the first
 * balanced {...} that parses. undefined when there is none.
 */
export function extractJsonObject(text: string, maxStarts = PARSE_LIMITS.maxJsonStarts): Record<string, unknown> | undefined {
  const whole = tryJson(text.trim());
  if (isRecord(whole)) return whole;
  const fenced = tryJson(firstFence(text));
  if (isRecord(fenced)) return fenced;
  let from = 0;
  for (let tries = 0; tries < maxStarts; tries++) {
    const start = text.indexOf('{', from);
    if (start < 0) return undefined;
    const end = balancedEnd(text, start);
    if (end < 0) return undefined;
    const parsed = tryJson(text.slice(start, end));
    if (isRecord(parsed)) return parsed;
    from = start + 1;
  }
  return undefined;
}

/** The value of the first key whose squashed form is one of `names`. */
function field(obj: Record<string, unknown>, names: readonly string[]): unknown {
  for (const [k, v] of Object.entries(obj)) if (names.includes(squash(k))) return v;
  return undefined;
}

function isFiniteNumber(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

/** Checks a set_decision against the decision it targets; the issue when it is not valid. */
function checkEdit(decision: Decision, value: unknown): string | undefined {
  const at = `set_decision inst ${decision.instIndex} (${decision.kind})`;
  if (decision.kind === 'SamplePerfectTile') {
    const detail = parseTileDetail(decision.detail);
    if (!detail) return `${at}: the decision's loop is unknown`;
    if (!isValidTile(detail, value)) {
      const bound = detail.maxInnermostFactor > 0 ? `, innermost <= ${detail.maxInnermostFactor}` : '';
      return `${at}: expected ${detail.n} positive integers with product ${detail.extent}${bound}, got ${quote(value)}`;
    }
    return undefined;
  }
  if (decision.kind === 'SampleCategorical') {
    const candidates = (decision.detail as { candidates?: unknown } | null)?.candidates;
    const count = Array.isArray(candidates) ? candidates.length : 0;
    if (!(Number.isInteger(value) && (value as number) >= 0 && (value as number) < count)) {
      return `${at}: expected an index in 0..${count - 1}, got ${quote(value)}`;
    }
    return undefined;
  }
  if (decision.kind === 'SampleComputeLocation') {
    if (!(Number.isInteger(value) && (value as number) >= -2)) return `${at}: expected an integer >= -2, got ${quote(value)}`;
    return undefined;
  }
  return `${at}: this decision cannot be set`;
}

/**
 * The decisions' values as the answer's edits so far leave them: an edit to the value a decision
 * already has (at the start, or after an earlier edit of the same answer) changes nothing, and
 * would cost the bridge a schedule structurally equal to its parent's.
 */
type CurrentValues = Map<number, string>;

function parseEdit(raw: unknown, decisions: readonly Decision[], current: CurrentValues): Transformation | string {
  if (!isRecord(raw)) return `set_decision: expected {"inst": <index>, "value": <value>}, got ${quote(raw)}`;
  const inst = field(raw, ['inst', 'instindex', 'index', 'instruction']);
  const value = field(raw, ['value', 'values', 'decision']);
  if (!(Number.isInteger(inst) && (inst as number) >= 0)) return `set_decision: "inst" must be an instruction index, got ${quote(inst)}`;
  // Numbers only: a string, object or null is never passed on, whatever it says.
  const numeric = isFiniteNumber(value) || (Array.isArray(value) && value.length <= 16 && value.every(isFiniteNumber));
  if (!numeric) return `set_decision inst ${inst as number}: "value" must be a number or a list of numbers, got ${quote(value)}`;
  const decision = decisions.find((d) => d.instIndex === inst);
  if (!decision) return `set_decision: the trace has no decision at inst ${inst as number}`;
  const problem = checkEdit(decision, value);
  if (problem) return problem;
  const now = current.get(decision.instIndex) ?? JSON.stringify(decision.value);
  if (JSON.stringify(value) === now) return `set_decision inst ${decision.instIndex}: it is ${quote(value)} already (a no-op)`;
  current.set(decision.instIndex, JSON.stringify(value));
  return { kind: 'setDecision', instIndex: inst as number, value: Array.isArray(value) ? [...value] : value };
}

function parseTransformation(
  raw: unknown,
  mutators: readonly MutatorInfo[],
  decisions: readonly Decision[],
  current: CurrentValues,
): Transformation | string {
  if (typeof raw === 'string') {
    const name = matchMutator(raw, mutators);
    return name ? { kind: 'mutator', name } : `unknown transformation ${quote(raw)}`;
  }
  if (!isRecord(raw)) return `unknown transformation ${quote(raw)}`;
  const edit = field(raw, ['setdecision', 'set', 'directededit', 'edit']);
  if (edit !== undefined) return parseEdit(edit, decisions, current);
  const mutator = field(raw, ['mutator', 'name', 'mutate', 'transformation']);
  if (typeof mutator === 'string') {
    const name = matchMutator(mutator, mutators);
    return name ? { kind: 'mutator', name } : `unknown transformation ${quote(mutator)}`;
  }
  // The flat form {"inst": 3, "value": [..]}.
  if (field(raw, ['inst', 'instindex']) !== undefined) return parseEdit(raw, decisions, current);
  return `unknown transformation ${quote(raw)}`;
}

/** Reads an answer; never throws, whatever the text. */
export function parseAnswer(input: ParseInput): ParsedAnswer {
  const limits = { ...PARSE_LIMITS, ...input.limits };
  const text = typeof input.text === 'string' ? input.text : '';
  const none = (issue: string): ParsedAnswer => ({ transformations: [], json: false, issues: [issue] });
  if (Buffer.byteLength(text, 'utf8') > limits.maxAnswerBytes) {
    return none(`the answer is longer than ${limits.maxAnswerBytes} bytes and was ignored`);
  }
  if (text.trim() === '') return none('the answer was empty');
  const obj = extractJsonObject(text, limits.maxJsonStarts);
  if (!obj) return none('no JSON object found: answer with {"transformations": [...], "next_model": "..."} only');

  const issues: string[] = [];
  const transformations: Transformation[] = [];
  let list = field(obj, ['transformations', 'mutators', 'actions', 'steps', 'transformation']);
  if (list === undefined) issues.push('no "transformations" list');
  else if (!Array.isArray(list)) list = [list];
  if (Array.isArray(list)) {
    if (list.length > limits.maxTransformations) {
      issues.push(`${list.length} transformations: only the first ${limits.maxTransformations} were used`);
    }
    const current: CurrentValues = new Map();
    for (const raw of list.slice(0, limits.maxTransformations)) {
      const t = parseTransformation(raw, input.mutators, input.decisions, current);
      if (typeof t === 'string') issues.push(t);
      else transformations.push(t);
    }
  }

  let nextModel: string | undefined;
  const rawNext = field(obj, ['nextmodel', 'next', 'model']);
  if (rawNext === undefined) issues.push('no "next_model"');
  else if (typeof rawNext !== 'string') issues.push(`next_model must be a model name, got ${quote(rawNext)}`);
  else {
    nextModel = matchModel(rawNext, input.models);
    if (!nextModel) issues.push(`unknown next_model ${quote(rawNext)}`);
  }
  return { transformations, ...(nextModel !== undefined ? { nextModel } : {}), json: true, issues };
}
