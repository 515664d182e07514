import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, realpath, stat, type FileHandle } from 'node:fs/promises';
import { posix, win32 } from 'node:path';
import { z } from 'zod';
import {
  ProcessListRequest,
  ProcessReceiveRequest,
  ProcessStartRequest,
  ProcessStopRequest,
  ProcessWaitRequest,
  ProcessWriteRequest,
  type ExposedPort,
} from '../../../typings/index.js';
import { BrokerError, NotFoundError, PolicyDeniedError } from '../errors.js';
import { normalizeAbsolutePath, normalizeHostPath, PathRuleError, samePath, type PathSyntax } from '../policy/paths.js';
import { matchProcessRule } from '../policy/processes.js';
import type { ProcessOwner, OutputSubscriber } from './process-manager.js';
import { defineHandler, type RequestContext } from './types.js';

function owner(context: RequestContext): ProcessOwner {
  return { connectionId: context.connectionId, uid: context.caller.uid, profile: context.profile.name, listener: context.caller.listener };
}

function subscriber(context: RequestContext): OutputSubscriber {
  return { connectionId: context.connectionId, notify: context.notify, congested: context.congested, drained: context.drained };
}

/**
 * A caller's path must already be canonical: the checks compare names, so a link or `..` would let a name
 * in the policy stand for another file. Anything else is a denial naming the processes rules.
 */
function ruledPath(input: string, syntax: PathSyntax, rule: string, what: string): string {
  try {
    return normalizeAbsolutePath(input, syntax);
  } catch (error) {
    if (error instanceof PathRuleError) throw new PolicyDeniedError(`${what} ${JSON.stringify(input)}: ${error.message}`, rule, error.reason);
    throw error;
  }
}

async function openProgram(path: string, context: RequestContext, rule: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new NotFoundError(`${path} does not exist`, { path });
    throw new BrokerError('HostOperationFailed', `cannot open ${path} (${code ?? 'unknown error'})`, { reason: 'OpenFailed' });
  }
  try {
    const syntax = context.platform.files.syntax;
    const real = normalizeHostPath(await context.platform.files.realPathOfDescriptor(handle.fd), syntax);
    if (!samePath(real, path, syntax)) throw new PolicyDeniedError(`${path} is a link to ${real}; name the program by its real path`, rule, 'NotCanonical');
    if (!(await handle.stat()).isFile()) throw new PolicyDeniedError(`${path} is not a regular file`, rule, 'NotAFile');
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

async function sha256Of(handle: FileHandle): Promise<string> {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(1024 * 1024);
  for (let position = 0; ; ) {
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) return hash.digest('hex');
    hash.update(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
}

const processId = z.number().int().min(1).max(0x7fffffff);
const port = z
  .string()
  .regex(/^(tcp|udp)\/([1-9]\d{0,4})$/)
  .refine((value) => Number(value.split('/')[1]) <= 65535, 'port must be 1-65535');

export const processStartHandler = defineHandler(ProcessStartRequest.type, {
  permission: 'processes.run',
  params: z.strictObject({
    path: z.string().min(1).max(32_767),
    args: z.array(z.string().max(32_767)).max(4096).optional(),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a variable name'), z.string().max(32_767)).optional(),
    cwd: z.string().min(1).max(32_767).optional(),
    exposes: z.array(port).max(64).optional(),
    detach: z.boolean().optional(),
    stream: z.boolean().optional(),
    stdin: z.boolean().optional(),
  }),
  async handle(params, context) {
    const { platform, profile } = context;
    const syntax = platform.files.syntax;
    const rules = profile.grant.processes ?? [];
    const rule = `profiles.${profile.name}.processes`;
    const path = ruledPath(params.path, syntax, rule, 'path');
    let cwd: string | undefined;
    if (params.cwd !== undefined) {
      cwd = ruledPath(params.cwd, syntax, rule, 'working directory');
      const real = await realpath(cwd).catch(() => undefined);
      if (!real) throw new NotFoundError(`working directory ${cwd} does not exist`, { path: cwd });
      if (!samePath(normalizeHostPath(real, syntax), cwd, syntax)) throw new PolicyDeniedError(`working directory ${cwd} is a link to ${real}; name it by its real path`, rule, 'NotCanonical');
      if (!(await stat(real)).isDirectory()) throw new BrokerError('InvalidParams', `cwd: ${cwd} is not a directory`, { reason: 'NotADirectory', field: 'cwd' });
    }
    const exposes = (params.exposes ?? []) as ExposedPort[];
    const handle = await openProgram(path, context, rule);
    try {
      const verdict = matchProcessRule(profile.name, rules, { path, args: params.args ?? [], envNames: Object.keys(params.env ?? {}), cwd, exposes, detach: params.detach ?? false }, syntax);
      if (!verdict.allowed) throw new PolicyDeniedError(verdict.message, verdict.ruleName, verdict.reason);
      if (verdict.rule.sha256 && (await sha256Of(handle)) !== verdict.rule.sha256.toLowerCase()) {
        throw new PolicyDeniedError(`${path} does not have the SHA-256 the policy pins: the file was replaced or changed`, `${verdict.ruleName}.sha256`, 'HashMismatch');
      }
      const limit = profile.grant.limits?.processes;
      const manager = context.services.processes;
      if (limit !== undefined && manager.runningCount(profile.name, context.caller.listener) >= limit) {
        throw new BrokerError('LimitExceeded', `profile ${profile.name} already runs ${limit} processes, its limit`, { reason: 'TooManyProcesses', limit, rule: `profiles.${profile.name}.limits.processes` });
      }
      return await manager.start(
        {
          path,
          args: params.args ?? [],
          env: { ...platform.processes.baseEnvironment(), ...(params.env ?? {}) },
          cwd: cwd ?? (syntax === 'win32' ? win32 : posix).dirname(path),
          stdin: params.stdin ?? false,
          detach: params.detach ?? false,
          // The platform runs this descriptor (`#!` scripts included on Linux), not the name.
          programFd: handle.fd,
        },
        { exposes, rule: verdict.ruleName, owner: owner(context), subscriber: params.stream ? subscriber(context) : undefined },
      );
    } finally {
      await handle.close();
    }
  },
});

export const processListHandler = defineHandler(ProcessListRequest.type, {
  permission: 'processes.run',
  params: z.strictObject({}),
  async handle(_params, context) {
    return { processes: context.services.processes.visible(owner(context)) };
  },
});

function cancelled(): BrokerError {
  return new BrokerError('RequestCancelled', 'the wait was cancelled', { reason: 'Cancelled' });
}

export const processWaitHandler = defineHandler(ProcessWaitRequest.type, {
  permission: 'processes.run',
  params: z.strictObject({ processId, timeoutMs: z.number().int().min(0).max(2_147_483_647).optional(), stream: z.boolean().optional() }),
  async handle(params, context) {
    const manager = context.services.processes;
    const managed = manager.get(owner(context), params.processId);
    const unsubscribe = params.stream ? manager.subscribe(managed, subscriber(context)) : () => {};
    let timer: NodeJS.Timeout | undefined;
    let onCancel: { dispose(): void } | undefined;
    try {
      const outcome = await Promise.race([
        managed.exited.then(() => 'exited' as const),
        new Promise<'timeout'>((resolve) => {
          if (params.timeoutMs !== undefined) timer = setTimeout(() => resolve('timeout'), params.timeoutMs);
        }),
        new Promise<'cancelled'>((resolve) => {
          onCancel = context.token.onCancellationRequested(() => resolve('cancelled'));
        }),
      ]);
      if (outcome === 'cancelled') throw cancelled();
      return managed.info;
    } finally {
      if (timer) clearTimeout(timer);
      onCancel?.dispose();
      unsubscribe();
    }
  },
});

export const processStopHandler = defineHandler(ProcessStopRequest.type, {
  permission: 'processes.run',
  params: z.strictObject({ processId, timeoutMs: z.number().int().min(0).max(600_000).optional() }),
  async handle(params, context) {
    const manager = context.services.processes;
    const managed = manager.get(owner(context), params.processId);
    await manager.stop(managed, params.timeoutMs ?? 5000);
    return managed.info;
  },
});

export const processWriteHandler = defineHandler(ProcessWriteRequest.type, {
  permission: 'processes.run',
  params: z.strictObject({ processId, data: z.string().max(8 * 1024 * 1024).optional(), close: z.boolean().optional() }),
  async handle(params, context) {
    const manager = context.services.processes;
    const managed = manager.get(owner(context), params.processId);
    const bytesWritten = await manager.write(managed, Buffer.from(params.data ?? '', 'base64'), params.close ?? false);
    return { bytesWritten };
  },
});

export const processReceiveHandler = defineHandler(ProcessReceiveRequest.type, {
  permission: 'processes.run',
  params: z.strictObject({ processId, maxBytes: z.number().int().min(1).max(16 * 1024 * 1024).optional() }),
  async handle(params, context) {
    const manager = context.services.processes;
    const managed = manager.get(owner(context), params.processId);
    const { stdout, stderr, complete } = await manager.receive(managed, params.maxBytes ?? 1024 * 1024);
    return { stdout: stdout.toString('base64'), stderr: stderr.toString('base64'), complete, process: managed.info };
  },
});

export const processHandlers = [processStartHandler, processListHandler, processWaitHandler, processStopHandler, processWriteHandler, processReceiveHandler];
