import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair } from 'yaml';
import { PolicyError, formatProblem, type PolicyProblem } from './load.js';
import { normalizeAbsolutePath } from './paths.js';
import { PolicySchema, type Policy, type ProcessRule } from './schema.js';

/** The result of converting a rancher/wins config: the policy and what the operator should know about it. */
export interface WinsConversion {
  policy: Policy;
  /** One line per thing dropped, narrowed or worth reviewing, as `file:line:column: message`. */
  notes: string[];
}

/**
 * Top-level wins keys (lower-cased: wins decodes its YAML through JSON, whose Go decoder matches keys
 * case-insensitively) that configure things WinsHost does not do, and why each is dropped. */
const ignoredKeys: Record<string, string> = {
  debug: "'debug' is ignored: the broker logs every call to its audit log (serve --audit)",
  listen: "'listen' is ignored: the listener is named 'winshost' (\\\\.\\pipe\\winshost); set listeners[0].path to use another pipe name",
  proxy: "'proxy' is ignored: it named the pipe of 'wins cli proxy', a TCP tunnel WinsHost does not provide",
  systemagent: "'systemagent' is ignored: WinsHost does not run the Rancher system agent",
  'csi-proxy': "'csi-proxy' is ignored: WinsHost does not install csi-proxy; install it as a service of its own",
  'tls-config': "'tls-config' is ignored: it was for wins' downloads, and the broker downloads nothing",
  agentstricttlsmode: "'agentStrictTLSMode' is ignored: WinsHost does not run the Rancher system agent",
};

export const winsListenerName = 'winshost';
export const winsProfileName = 'wins';

/** Reads and converts a wins config file; an unreadable file is a `PolicyError` like an unreadable policy. */
export function loadWinsConfigFile(file: string): WinsConversion {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new PolicyError([{ file, line: 1, column: 1, message: `cannot read the wins config file (${reason})` }]);
  }
  return convertWinsConfig(text, file);
}

/**
 * A rancher/wins config (`c:\etc\rancher\wins\config`) → a WinsHost policy with one listener `winshost` and
 * one profile `wins`. Each `white_list.processPaths` entry becomes a process rule for its canonical path
 * with any arguments (wins never checked them) and the `proxyPorts` as `tcp/N` exposures. Unlike wins, an
 * empty or missing `processPaths` allows no program at all. The file's structure must be what wins reads
 * (errors, as `PolicyError`); values WinsHost cannot express safely are dropped with a note.
 */
export function convertWinsConfig(text: string, file: string): WinsConversion {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, strict: true, uniqueKeys: true });
  const position = (offset: number | undefined) => {
    const { line, col } = lineCounter.linePos(offset ?? 0);
    return { file, line, column: col };
  };
  const yamlProblems = [...doc.errors, ...doc.warnings].map((e) => ({ ...position(e.pos[0]), message: e.message.split('\n')[0] }));
  if (yamlProblems.length) throw new PolicyError(yamlProblems);

  const problems: PolicyProblem[] = [];
  const notes: string[] = [];
  const problem = (node: unknown, message: string) => problems.push({ ...position(start(node)), message });
  const note = (node: unknown, message: string) => notes.push(formatProblem({ ...position(start(node)), message }));

  const root = doc.contents;
  let whiteList: Node | null | undefined;
  let whiteListKey: unknown;
  if (root === null || (isScalar(root) && root.value === null)) {
    // An empty file: wins starts with its defaults, which is what the missing white_list note covers.
  } else if (!isMap(root)) {
    problem(root, 'a wins config must be a mapping of keys (white_list, listen, debug, ...)');
  } else {
    for (const pair of root.items as Pair<unknown, unknown>[]) {
      const key = keyOf(pair)?.toLowerCase();
      if (key === 'white_list') {
        whiteList = pair.value as Node | null;
        whiteListKey = pair.key;
      } else if (key !== undefined && Object.hasOwn(ignoredKeys, key)) {
        note(pair.key, ignoredKeys[key]);
      } else {
        note(pair.key, `'${keyOf(pair) ?? String(pair.key)}' is not a wins config key WinsHost knows; ignored`);
      }
    }
  }

  let pathsNode: unknown;
  let portsNode: unknown;
  let pathsKey: unknown;
  if (whiteList !== undefined && whiteList !== null && !(isScalar(whiteList) && whiteList.value === null)) {
    if (!isMap(whiteList)) {
      problem(whiteList, 'white_list: must be a mapping with processPaths and proxyPorts');
    } else {
      for (const pair of whiteList.items as Pair<unknown, unknown>[]) {
        const key = keyOf(pair)?.toLowerCase();
        if (key === 'processpaths') {
          pathsNode = pair.value;
          pathsKey = pair.key;
        } else if (key === 'proxyports') portsNode = pair.value;
        else note(pair.key, `white_list.${keyOf(pair) ?? String(pair.key)} is not a wins white_list key; ignored`);
      }
    }
  }

  const paths: string[] = [];
  const seenPaths = new Set<string>();
  for (const [i, item] of listItems(pathsNode, 'white_list.processPaths', problem).entries()) {
    if (!isScalar(item) || typeof item.value !== 'string') {
      problem(item, `white_list.processPaths.${i}: must be a path string`);
      continue;
    }
    let canonical: string;
    try {
      canonical = normalizeAbsolutePath(item.value, 'win32');
    } catch (error) {
      note(item, `white_list.processPaths.${i}: dropped, no rule made: ${(error as Error).message}`);
      continue;
    }
    const folded = canonical.toUpperCase();
    if (seenPaths.has(folded)) {
      note(item, `white_list.processPaths.${i}: ${canonical} is listed twice; one rule made`);
      continue;
    }
    seenPaths.add(folded);
    if (canonical.toUpperCase() !== item.value.toUpperCase()) note(item, `white_list.processPaths.${i}: written as ${canonical}, its canonical form`);
    paths.push(canonical);
  }

  const exposes: string[] = [];
  for (const [i, item] of listItems(portsNode, 'white_list.proxyPorts', problem).entries()) {
    const value = isScalar(item) ? item.value : undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
      note(item, `white_list.proxyPorts.${i}: ${isScalar(item) ? JSON.stringify(value) : 'this entry'} is not a port (1-65535); dropped`);
      continue;
    }
    if (!exposes.includes(`tcp/${value}`)) exposes.push(`tcp/${value}`);
  }

  if (problems.length) throw new PolicyError(problems);

  if (paths.length === 0) {
    const where = pathsNode ?? pathsKey ?? whiteListKey ?? root;
    note(
      where,
      pathsNode === undefined || (isScalar(pathsNode) && pathsNode.value === null)
        ? 'white_list.processPaths is missing: no program may be started (wins allowed every program here); list the programs callers may start'
        : 'white_list.processPaths has no usable path: no program may be started (wins allowed every program for an empty list); list the programs callers may start',
    );
  } else {
    note(pathsKey, `each of the ${paths.length} program(s) may be given any arguments, as wins allowed; narrow args to exact or pattern where you can`);
    note(pathsKey, 'wins let callers set any environment variable and working directory; WinsHost allows neither unless a rule lists them (env, workingDirectories)');
    if (exposes.length) {
      note(
        portsNode,
        `proxyPorts limited 'wins cli proxy --publish', which WinsHost does not provide, and wins let 'prc run --exposes' open any port: ` +
          `each program may now expose only ${exposes.join(', ')}; narrow exposes per program, and add udp/N for one that listens on UDP`,
      );
    } else {
      note(pathsKey, "wins let 'prc run --exposes' open any port; with no proxyPorts no program may expose one now: add exposes to a rule that needs it");
    }
  }
  note(root, `every caller that can open the pipe gets profile '${winsProfileName}', as with wins; add profiles.${winsProfileName}.match and check the pipe's access`);

  const processes: ProcessRule[] = paths.map((path) => ({ path, args: { any: true }, ...(exposes.length ? { exposes: [...exposes] } : {}) }));
  const policy = PolicySchema.parse({
    version: 1,
    listeners: [{ name: winsListenerName, profiles: [winsProfileName] }],
    profiles: {
      [winsProfileName]: {
        host: { read: true },
        network: { read: true },
        ...(processes.length ? { processes } : {}),
      },
    },
  });
  return { policy, notes };
}

/** The items of a YAML list; a missing or null value is an empty list, anything else not a list a problem. */
function listItems(node: unknown, where: string, problem: (node: unknown, message: string) => void): unknown[] {
  if (node === undefined || node === null || (isScalar(node) && node.value === null)) return [];
  if (!isSeq(node)) {
    problem(node, `${where}: must be a list`);
    return [];
  }
  return node.items;
}

function keyOf(pair: Pair<unknown, unknown>): string | undefined {
  return isScalar(pair.key) ? String(pair.key.value) : undefined;
}

function start(node: unknown): number | undefined {
  return (node as Node | undefined)?.range?.[0];
}
