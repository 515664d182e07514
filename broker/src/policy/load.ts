import { readFileSync } from 'node:fs';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { PolicySchema, type Policy } from './schema.js';

/** One problem in a policy file, located for an editor: `file:line:column: message`. */
export interface PolicyProblem {
  file: string;
  line: number;
  column: number;
  message: string;
}

export function formatProblem(problem: PolicyProblem): string {
  return `${problem.file}:${problem.line}:${problem.column}: ${problem.message}`;
}

export class PolicyError extends Error {
  constructor(readonly problems: PolicyProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'PolicyError';
  }
}

export interface LoadedPolicy {
  policy: Policy;
  /** The file it came from, or `<built-in>`. */
  source: string;
}

export function loadPolicyFile(file: string): LoadedPolicy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new PolicyError([{ file, line: 1, column: 1, message: `cannot read the policy file (${reason})` }]);
  }
  return { policy: parsePolicy(text, file), source: file };
}

/**
 * YAML → validated policy. YAML warnings (an unknown tag, for one) count as errors, duplicate keys are
 * errors, and every schema problem is located at the node it concerns.
 */
export function parsePolicy(text: string, file: string): Policy {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, strict: true, uniqueKeys: true });
  const at = (offset: number, message: string): PolicyProblem => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col, message };
  };
  const yamlProblems = [...doc.errors, ...doc.warnings].map((e) => at(e.pos[0], e.message.split('\n')[0]));
  if (yamlProblems.length) throw new PolicyError(yamlProblems);
  const result = PolicySchema.safeParse(doc.toJS({ maxAliasCount: 50 }));
  if (result.success) return result.data;
  throw new PolicyError(result.error.issues.map((issue) => at(issueOffset(doc, issue), describeIssue(issue))));
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.length ? issue.path.join('.') : '(document)';
  if (issue.code === 'unrecognized_keys') return `${where}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
  return `${where}: ${issue.message}`;
}

/** The offset of the YAML node an issue is about; for a missing key, its parent; for an unknown key, the key. */
function issueOffset(doc: Document, issue: z.core.$ZodIssue): number {
  let node: unknown = doc.contents;
  let offset = rangeStart(node) ?? 0;
  for (const segment of issue.path) {
    const child = childOf(node, segment);
    if (!child) break;
    node = child.value;
    offset = child.offset ?? offset;
  }
  if (issue.code === 'unrecognized_keys' && isMap(node)) {
    const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === issue.keys[0]);
    offset = rangeStart(pair?.key) ?? offset;
  }
  return offset;
}

function childOf(node: unknown, segment: PropertyKey): { value: unknown; offset: number | undefined } | undefined {
  if (isMap(node)) {
    const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment));
    if (!pair) return undefined;
    return { value: pair.value, offset: rangeStart(pair.value) ?? rangeStart(pair.key) };
  }
  if (isSeq(node) && typeof segment === 'number') {
    const item = node.items[segment];
    return item === undefined ? undefined : { value: item, offset: rangeStart(item) };
  }
  return undefined;
}

function rangeStart(node: unknown): number | undefined {
  return (node as Node | undefined)?.range?.[0];
}
