import type { ExposedPort } from '../../../typings/index.js';
import { isWithin, normalizeAbsolutePath, samePath, type PathSyntax } from './paths.js';
import type { ProcessRule } from './schema.js';

/** A start request after the path was found canonical; everything the rules look at. */
export interface ProcessRequest {
  /** Canonical program path. */
  path: string;
  args: string[];
  envNames: string[];
  /** Canonical working directory, or undefined for the program's own directory. */
  cwd: string | undefined;
  exposes: ExposedPort[];
  detach: boolean;
}

export type ProcessVerdict =
  | { allowed: true; index: number; rule: ProcessRule; ruleName: string }
  | { allowed: false; reason: string; ruleName: string; message: string };

/**
 * Policy paths obey the same rules as callers' paths: a rule written as UNC, 8.3 or with `..` names
 * something other than what it seems, so it matches nothing rather than being trusted.
 */
function strictPath(path: string, syntax: PathSyntax): string | undefined {
  try {
    return normalizeAbsolutePath(path, syntax);
  } catch {
    return undefined;
  }
}

/** Why one rule does not admit the request, or undefined when it does. Hash pins are checked later, on the file. */
function mismatch(rule: ProcessRule, request: ProcessRequest, syntax: PathSyntax): { reason: string; field: string; message: string } | undefined {
  const args = rule.args;
  if (!args && request.args.length > 0) return { reason: 'ArgumentsNotAllowed', field: 'args', message: 'this program may not be given arguments' };
  if (args && 'exact' in args && (args.exact.length !== request.args.length || args.exact.some((a, i) => a !== request.args[i]))) {
    return { reason: 'ArgumentsNotAllowed', field: 'args', message: 'the arguments are not the exact list the policy allows' };
  }
  if (args && 'pattern' in args) {
    const pattern = new RegExp(args.pattern, 'u');
    const bad = request.args.find((a) => !pattern.test(a));
    if (bad !== undefined) return { reason: 'ArgumentsNotAllowed', field: 'args', message: `argument ${JSON.stringify(bad)} does not match the allowed pattern` };
  }
  // Windows environment names are case-insensitive; Linux ones are not.
  const fold = (name: string) => (syntax === 'win32' ? name.toUpperCase() : name);
  const allowedEnv = new Set((rule.env ?? []).map(fold));
  const badEnv = request.envNames.find((name) => !allowedEnv.has(fold(name)));
  if (badEnv !== undefined) return { reason: 'EnvironmentNotAllowed', field: 'env', message: `the caller may not set ${badEnv}` };
  if (request.cwd !== undefined) {
    const roots = (rule.workingDirectories ?? []).flatMap((root) => strictPath(root, syntax) ?? []);
    if (!roots.some((root) => isWithin(root, request.cwd!, syntax))) {
      return { reason: 'WorkingDirectoryNotAllowed', field: 'workingDirectories', message: `${request.cwd} is not under an allowed working directory` };
    }
  }
  const badPort = request.exposes.find((port) => !(rule.exposes ?? []).includes(port));
  if (badPort !== undefined) return { reason: 'PortNotAllowed', field: 'exposes', message: `this program may not expose ${badPort}` };
  if (request.detach && rule.detach !== true) return { reason: 'DetachNotAllowed', field: 'detach', message: 'this program may not keep running after the caller disconnects' };
  return undefined;
}

/**
 * The first rule of the profile that admits the request. When rules for the path exist but none admits
 * it, the answer names the first such rule and why, so the operator sees which line to change.
 */
export function matchProcessRule(profileName: string, rules: ProcessRule[], request: ProcessRequest, syntax: PathSyntax): ProcessVerdict {
  let first: ProcessVerdict | undefined;
  for (const [index, rule] of rules.entries()) {
    const listed = strictPath(rule.path, syntax);
    if (listed === undefined || !samePath(listed, request.path, syntax)) continue;
    const ruleName = `profiles.${profileName}.processes.${index}`;
    const why = mismatch(rule, request, syntax);
    if (!why) return { allowed: true, index, rule, ruleName };
    first ??= { allowed: false, reason: why.reason, ruleName: `${ruleName}.${why.field}`, message: why.message };
  }
  return first ?? { allowed: false, reason: 'PathNotListed', ruleName: `profiles.${profileName}.processes`, message: `${request.path} is not a program this profile may start` };
}
