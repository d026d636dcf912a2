// The prompts (DESIGN §3): what the acting model is told about the schedule, the search and
// the other models, and how it must answer. A schedule is shown as its decisions (what an answer
// may set), its TVMScript when the space could print it, and an abbreviated trace. A prompt must
// fit the model's context: the oldest context goes first (grandparent, then parent, then the
// leaf's trace and TVMScript), and the instructions and the answer format never go.
import { oneLine } from '../../errors';
import type { CorrectionRequest, Decision, NodeView, ProposalContext, Transformation } from '../../search';
import type { ChatMessage } from '../language-model';

/** One model as the prompt's statistics table shows it. */
export interface ModelLine {
  name: string;
  size: number;
  calls: number;
  errors: number;
  hitRate: number;
  /** The built-in proposer: no LLM, free. */
  builtin?: boolean;
}

export interface PromptInput {
  ctx: ProposalContext;
  /** The acting model. */
  model: string;
  models: ModelLine[];
  sizeBy: 'params' | 'price';
  /** The acting model's latest problems, oldest first. */
  recentErrors: string[];
  contextTokens: number;
  maxOutputTokens: number;
  /** The model's own token count of a text, where it can tell (a local model); else an estimate is used. */
  countTokens?: (text: string) => number;
}

export interface Prompt {
  messages: ChatMessage[];
  /** The context left out to fit, in the order it was dropped. */
  dropped: string[];
  /** The count (or, without countTokens, the estimate) that had to fit. */
  tokens: number;
}

/** What each MetaSchedule mutator does, in one line. */
const MUTATOR_MEANINGS: Record<string, string> = {
  MutateTileSize: 're-samples the tile sizes of one loop split (a SamplePerfectTile decision)',
  MutateComputeLocation: 'moves one block to another loop to be computed at (a SampleComputeLocation decision)',
  MutateUnroll: 're-samples the auto-unroll limit of a block (a SampleCategorical decision)',
  MutateParallel: 're-samples how many outer loops are fused and parallelised',
  MutateThreadBinding: 're-samples the thread extent a fused loop is bound to (GPU)',
};

export const SYSTEM_INSTRUCTIONS = [
  'You tune the schedule of one tensor program for TVM MetaSchedule, as one of several language models taking turns in a shared Monte Carlo tree search.',
  'A schedule is a trace of scheduling instructions; its sampling decisions (tile sizes, unroll limits, compute locations) are what you change.',
  '',
  'Answer with one JSON object and nothing else:',
  '{"transformations": [...], "next_model": "<model name>"}',
  '- "transformations": 1 to 8 steps, applied in order. Each is either',
  '  {"mutator": "<name>"}: a MetaSchedule mutator re-samples a decision at random, or',
  '  {"set_decision": {"inst": <index>, "value": <value>}}: you set one listed decision yourself. For SamplePerfectTile the value is a list of n positive integers whose product is the loop extent (the last one at most the innermost bound, if any); for SampleCategorical an index into its candidates; for SampleComputeLocation an integer >= -2.',
  '- "next_model": the model that acts on the schedule you create. Smaller models are cheaper; hand over to a larger one when the search is stuck.',
  '',
  'Predicted scores come from a cost model (higher is better) that is often wrong, above all early in the search: do not over-trust them. Measured latencies are real.',
  'Write no code, no explanation and no file paths: only the JSON object.',
].join('\n');

const CORRECTION_NOTE =
  'You are the largest model. Smaller models just made the schedule worse several times in a row: propose a better step from the schedule you are shown.';

/** Characters per token for fitting. Traces are digit-heavy JSON, which tokenises densely. */
const CHARS_PER_TOKEN = 3;

function fmtScore(x: number): string {
  return Number.isFinite(x) ? x.toPrecision(4) : String(x);
}

function fmtSize(size: number, sizeBy: 'params' | 'price'): string {
  if (sizeBy === 'price') return `$${size.toPrecision(3)}/MTok`;
  if (size >= 1e12) return `${(size / 1e12).toPrecision(3)}T params`;
  if (size >= 1e9) return `${(size / 1e9).toPrecision(3)}B params`;
  return `${(size / 1e6).toPrecision(3)}M params`;
}

function fmtValue(value: unknown): string {
  return oneLine(JSON.stringify(value) ?? String(value), 80);
}

function fmtDecision(d: Decision): string {
  const detail = (d.detail ?? {}) as Record<string, unknown>;
  let extra = '';
  if (d.kind === 'SamplePerfectTile') {
    const inner = Number(detail.max_innermost_factor ?? 0);
    extra = ` (extent ${String(detail.extent)}, n ${String(detail.n)}${inner > 0 ? `, innermost <= ${inner}` : ''})`;
  } else if (d.kind === 'SampleCategorical' && Array.isArray(detail.candidates)) {
    extra = ` (candidates ${fmtValue(detail.candidates)})`;
  }
  return `- inst ${d.instIndex} ${d.kind}: ${fmtValue(d.value)}${extra}`;
}

function fmtTransformation(t: Transformation): string {
  return t.kind === 'mutator' ? t.name : `set_decision inst ${t.instIndex} = ${fmtValue(t.value)}`;
}

function abbreviate(trace: string, max: number): string {
  if (trace.length <= max) return trace;
  return `${trace.slice(0, max)} …(${trace.length - max} more characters)`;
}

/** Lines of TVMScript a prompt leaves out: the printer's import comments and access annotations. */
const SCRIPT_NOISE = /^\s*(# from tvm\b|# with T\.sblock\("root"\)|T\.reads\(|T\.writes\(|T\.sblock_attr\()/;

/**
 * TVMScript without the lines that say nothing about the schedule, cut at a line boundary to at
 * most `max` characters: the head (signature, buffers, outer loops) is what shows the schedule.
 */
function scriptBlock(script: string, max: number): string {
  const lines = script.split('\n').filter((line) => line.trim() !== '' && !SCRIPT_NOISE.test(line));
  const kept: string[] = [];
  let chars = 0;
  for (const line of lines) {
    if (chars + line.length + 1 > max) break;
    kept.push(line);
    chars += line.length + 1;
  }
  const cut = lines.length - kept.length;
  if (cut > 0) kept.push(`# … (${cut} more lines)`);
  return ['TVMScript (post-processed, T.reads/T.writes left out):', '```python', ...kept, '```'].join('\n');
}

/** Decisions of `node` that differ from `ref`'s, as "inst i: value". */
function differences(node: NodeView, ref: NodeView): string {
  const refValues = new Map(ref.decisions.map((d) => [d.instIndex, JSON.stringify(d.value)]));
  const diffs = node.decisions.filter((d) => refValues.get(d.instIndex) !== JSON.stringify(d.value));
  if (diffs.length === 0) return 'none';
  const shown = diffs.slice(0, 12).map((d) => `inst ${d.instIndex}: ${fmtValue(d.value)}`);
  return diffs.length > shown.length ? `${shown.join('; ')}; and ${diffs.length - shown.length} more` : shown.join('; ');
}

function scoreLine(node: NodeView): string {
  const measured =
    node.measuredLatency !== undefined ? `measured latency ${(node.measuredLatency * 1e6).toPrecision(4)} us` : 'not measured yet';
  return `Predicted score ${fmtScore(node.predictedScore)}; ${measured}.`;
}

/** How much of the context a prompt keeps; each reduction step lowers one of these. */
interface Detail {
  grandparentScript: boolean;
  grandparentTrace: boolean;
  grandparent: boolean;
  parentScript: boolean;
  parentTrace: boolean;
  parent: boolean;
  leafTraceChars: number;
  leafScriptChars: number;
  decisions: number;
  errors: boolean;
}

const FULL: Detail = {
  grandparentScript: true,
  grandparentTrace: true,
  grandparent: true,
  parentScript: true,
  parentTrace: true,
  parent: true,
  leafTraceChars: 6000,
  leafScriptChars: 8000,
  decisions: 64,
  errors: true,
};

/** The reductions, least useful context first. */
const REDUCTIONS: Array<[string, (d: Detail) => Detail]> = [
  ['grandparent script', (d) => ({ ...d, grandparentScript: false })],
  ['grandparent trace', (d) => ({ ...d, grandparentTrace: false })],
  ['grandparent', (d) => ({ ...d, grandparent: false })],
  ['parent script', (d) => ({ ...d, parentScript: false })],
  ['parent trace', (d) => ({ ...d, parentTrace: false })],
  ['parent', (d) => ({ ...d, parent: false })],
  ['long trace', (d) => ({ ...d, leafTraceChars: 1500 })],
  ['trace', (d) => ({ ...d, leafTraceChars: 0 })],
  ['script past 2400 characters', (d) => ({ ...d, leafScriptChars: 2400 })],
  ['script past 1000 characters', (d) => ({ ...d, leafScriptChars: 1000 })],
  ['script', (d) => ({ ...d, leafScriptChars: 0 })],
  ['recent errors', (d) => ({ ...d, errors: false })],
  ['decisions past 24', (d) => ({ ...d, decisions: 24 })],
  ['decisions past 8', (d) => ({ ...d, decisions: 8 })],
];

function searchSection(input: PromptInput): string {
  const { ctx } = input;
  const lines = [
    '## Search',
    `You are ${input.model}. The schedule below is at depth ${ctx.node.depth} of the tree; hardware trials used: ${ctx.trialsUsed} of ${ctx.maxTrials}.`,
  ];
  const recent = ctx.recentExpanders ?? [];
  if (recent.length === 1) lines.push(`The last schedule was created by ${recent[0]}.`);
  if (recent.length > 1) lines.push(`The last ${recent.length} schedules were created by: ${recent.join(', ')}.`);
  return lines.join('\n');
}

function modelsSection(input: PromptInput): string {
  const lines = ['## Models (next_model must be one of these names)', 'name | size | calls | errors | hit rate'];
  for (const m of input.models) {
    const you = m.name === input.model ? ' (you)' : '';
    const size = m.builtin ? 'built-in proposer, no LLM, free' : fmtSize(m.size, input.sizeBy);
    lines.push(`${m.name}${you} | ${size} | ${m.calls} | ${m.errors} | ${Math.round(m.hitRate * 100)}%`);
  }
  lines.push('Hit rate: share of a model\'s turns whose schedule scored above its parent.');
  return lines.join('\n');
}

function errorsSection(input: PromptInput): string | undefined {
  if (input.recentErrors.length === 0) return undefined;
  return ['## Your recent errors (avoid them)', ...input.recentErrors.map((e) => `- ${e}`)].join('\n');
}

function transformationsSection(input: PromptInput): string {
  const lines = ['## Transformations', 'Mutators:'];
  for (const m of input.ctx.mutators) {
    const meaning = MUTATOR_MEANINGS[m.name] ?? 'a MetaSchedule mutator';
    lines.push(`- ${m.name} (default probability ${m.probability.toFixed(2)}): ${meaning}`);
  }
  lines.push('Directed edits: set_decision on one of the decisions listed with the schedule.');
  return lines.join('\n');
}

function scheduleSection(title: string, node: NodeView, detail: Detail): string {
  const lines = [`## ${title} (node ${node.id}, depth ${node.depth})`, scoreLine(node)];
  const shown = node.decisions.slice(0, detail.decisions);
  lines.push(shown.length > 0 ? 'Decisions:' : 'Decisions: none that can be set.');
  lines.push(...shown.map(fmtDecision));
  if (node.decisions.length > shown.length) lines.push(`- … and ${node.decisions.length - shown.length} more decisions`);
  if (node.tvmscript && detail.leafScriptChars > 0) lines.push(scriptBlock(node.tvmscript, detail.leafScriptChars));
  if (detail.leafTraceChars > 0) lines.push(`Trace (TVM JSON): ${abbreviate(node.traceJson, detail.leafTraceChars)}`);
  return lines.join('\n');
}

/** What an ancestor's section shows besides its scores and differing decisions. */
interface AncestorDetail {
  script: boolean;
  scriptChars: number;
  trace: boolean;
  traceChars: number;
}

function ancestorSection(title: string, node: NodeView, child: NodeView, detail: AncestorDetail): string {
  const lines = [
    `## ${title} (node ${node.id}${node.expandedBy ? `, created by ${node.expandedBy}` : ''})`,
    scoreLine(node),
    `Its decisions that differ from the ${title === 'Parent' ? 'schedule above' : 'parent'}: ${differences(node, child)}.`,
  ];
  if (node.tvmscript && detail.script) lines.push(scriptBlock(node.tvmscript, detail.scriptChars));
  if (detail.trace) lines.push(`Trace (TVM JSON): ${abbreviate(node.traceJson, detail.traceChars)}`);
  return lines.join('\n');
}

function contextSections(input: PromptInput, detail: Detail, current: string): string[] {
  const { ctx } = input;
  const sections = [searchSection(input), modelsSection(input)];
  const errors = detail.errors ? errorsSection(input) : undefined;
  if (errors) sections.push(errors);
  sections.push(transformationsSection(input));
  sections.push(scheduleSection(current, ctx.node, detail));
  if (ctx.parent && detail.parent) {
    sections.push(
      ancestorSection('Parent', ctx.parent, ctx.node, {
        script: detail.parentScript,
        scriptChars: 4000,
        trace: detail.parentTrace,
        traceChars: 2000,
      }),
    );
    if (ctx.grandparent && detail.grandparent) {
      sections.push(
        ancestorSection('Grandparent', ctx.grandparent, ctx.parent, {
          script: detail.grandparentScript,
          scriptChars: 4000,
          trace: detail.grandparentTrace,
          traceChars: 1000,
        }),
      );
    }
  }
  return sections;
}

/** What a chat template adds around each message, in tokens (ChatML: 4 or 5). */
const TEMPLATE_TOKENS_PER_MESSAGE = 8;

function tokensOf(messages: ChatMessage[], countTokens?: (text: string) => number): number {
  if (countTokens) return messages.reduce((n, m) => n + countTokens(m.content) + TEMPLATE_TOKENS_PER_MESSAGE, 0);
  return Math.ceil(messages.reduce((n, m) => n + m.content.length, 0) / CHARS_PER_TOKEN);
}

/** Builds with full detail, then drops context step by step until the estimate fits. */
function fit(input: PromptInput, build: (detail: Detail) => ChatMessage[]): Prompt {
  const limit = input.contextTokens - input.maxOutputTokens;
  let detail = FULL;
  let messages = build(detail);
  const dropped: string[] = [];
  for (const [name, reduce] of REDUCTIONS) {
    if (tokensOf(messages, input.countTokens) <= limit) break;
    detail = reduce(detail);
    const reduced = build(detail);
    // A reduction of something this prompt does not show (e.g. no TVMScript) drops nothing.
    if (reduced.every((m, i) => m.content === messages[i].content)) continue;
    dropped.push(name);
    messages = reduced;
  }
  // Past the last reduction it goes out as it is: the endpoint's own limit is the last word.
  return { messages, dropped, tokens: tokensOf(messages, input.countTokens) };
}

const ANSWER_REMINDER = 'Answer with the JSON object only: {"transformations": [...], "next_model": "..."}';

/** The prompt for one turn of the acting model on ctx.node. */
export function buildProposalPrompt(input: PromptInput): Prompt {
  return fit(input, (detail) => [
    { role: 'system', content: SYSTEM_INSTRUCTIONS },
    { role: 'user', content: [...contextSections(input, detail, 'Current schedule'), ANSWER_REMINDER].join('\n\n') },
  ]);
}

/**
 * The course-alteration prompt for the largest model: the streak of regressions, the small
 * model's proposal with both scores, and the parent schedule it started from (ctx.node).
 */
export function buildCorrectionPrompt(input: PromptInput & { request: CorrectionRequest }): Prompt {
  const { request } = input;
  const history = request.history.map(
    (r) =>
      `- ${r.model} applied [${r.proposal.transformations.map(fmtTransformation).join(', ')}]: score ${fmtScore(r.parentScore)} -> ${fmtScore(r.childScore)}`,
  );
  const correction = [
    '## Course correction',
    `Smaller models made the schedule worse ${request.streak} times in a row (predicted scores, most recent last):`,
    ...history,
    `The last of these, by ${request.model}, started from the schedule below. Propose a better step from it: beat ${fmtScore(request.childScore)}, ideally ${fmtScore(request.parentScore)}.`,
  ].join('\n');
  return fit(input, (detail) => [
    { role: 'system', content: `${SYSTEM_INSTRUCTIONS}\n\n${CORRECTION_NOTE}` },
    {
      role: 'user',
      content: [correction, ...contextSections(input, detail, 'Schedule to improve'), ANSWER_REMINDER].join('\n\n'),
    },
  ]);
}
