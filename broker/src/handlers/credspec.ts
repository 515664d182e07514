import { readdir, realpath, stat } from 'node:fs/promises';
import { posix, win32 } from 'node:path';
import { z } from 'zod';
import {
  CredentialSpecGetRequest,
  CredentialSpecListRequest,
  CredentialSpecTestRequest,
  type CredentialSpec,
  type CredentialSpecInfo,
  type CredentialSpecProblem,
} from '../../../typings/index.js';
import { BrokerError, HostOperationFailedError, InvalidParamsError, NotFoundError, PolicyDeniedError } from '../errors.js';
import { isWithin, normalizeHostPath, normalizeRelativePath, PathRuleError } from '../policy/paths.js';
import type { CredentialSpecsGrant } from '../policy/schema.js';
import { openConfined, resolveRoots } from './confined.js';
import { credentialSpecAllowed, parseCredentialSpecReference, validateCredentialSpecText, type CredentialSpecReference } from './credspec-document.js';
import { defineHandler, type RequestContext } from './types.js';

/** Credential specs are small JSON documents; anything larger is not one. */
const MAX_SPEC_BYTES = 1024 * 1024;

function specsGrant(context: RequestContext): CredentialSpecsGrant {
  const grant = context.profile.grant.credentialSpecs;
  if (!grant) throw new PolicyDeniedError('this profile may not read credential specs', `profiles.${context.profile.name}.credentialSpecs`);
  return grant;
}

function specDirectory(context: RequestContext, grant: CredentialSpecsGrant): string {
  const directory = grant.directory ?? context.platform.credentialSpecs.defaultDirectory;
  if (!directory) {
    throw new HostOperationFailedError(`file:// credential specs need profiles.${context.profile.name}.credentialSpecs.directory on this host`, { reason: 'NotConfigured' });
  }
  return directory;
}

interface LoadedSpec {
  info: CredentialSpecInfo;
  text: string;
}

/**
 * Reads the document a reference names, after the allow list. A `file://` name must be relative and stays
 * under the spec directory by the real path of the opened file, not by a string prefix of the joined name
 * (Docker's check, which admits `CredentialSpecs2` and links out of the directory).
 */
async function loadSpec(uri: string, context: RequestContext): Promise<LoadedSpec> {
  const grant = specsGrant(context);
  const parsed = parseCredentialSpecReference(uri);
  // The allow list is matched against the normalized name, so `./x.json` cannot dodge `file://x.json`.
  const reference = parsed.source === 'file' ? { ...parsed, name: specFileName(parsed.name, context.platform.files.syntax) } : parsed;
  const rule = `profiles.${context.profile.name}.credentialSpecs.allow`;
  if (!credentialSpecAllowed(reference, grant.allow)) throw new PolicyDeniedError(`the credential spec ${reference.uri} is not in this profile's allow list`, rule);
  const info: CredentialSpecInfo = { Uri: reference.uri, Source: reference.source, Name: reference.name };
  if (reference.source === 'raw') return { info, text: reference.text ?? '' };
  if (reference.source === 'registry') {
    const text = await context.platform.credentialSpecs.readRegistrySpec(reference.name);
    if (text === null) throw new NotFoundError(`no credential spec named ${reference.name} in the registry`, { uri: reference.uri });
    return { info, text };
  }
  return loadFileSpec(reference, info, context, grant, rule);
}

function specFileName(name: string, syntax: 'posix' | 'win32'): string {
  try {
    return normalizeRelativePath(name, syntax);
  } catch (error) {
    if (error instanceof PathRuleError) throw new InvalidParamsError(`uri: ${error.message}`, 'uri', error.reason);
    throw error;
  }
}

async function loadFileSpec(reference: CredentialSpecReference, info: CredentialSpecInfo, context: RequestContext, grant: CredentialSpecsGrant, rule: string): Promise<LoadedSpec> {
  const { files } = context.platform;
  const name = reference.name;
  const [root] = await resolveRoots([{ path: specDirectory(context, grant), rule: `profiles.${context.profile.name}.credentialSpecs.directory` }], files.syntax);
  if (!root) throw new NotFoundError(`the credential spec directory ${specDirectory(context, grant)} does not exist`, { uri: reference.uri });
  const path = (files.syntax === 'win32' ? win32 : posix).join(root.real, name);
  const file = await openConfined(path, [root], files, rule);
  try {
    if (file.stats.size > MAX_SPEC_BYTES) throw new BrokerError('LimitExceeded', `${path} is larger than a credential spec can be (${MAX_SPEC_BYTES} bytes)`, { reason: 'SpecTooLarge', limit: MAX_SPEC_BYTES });
    const buffer = Buffer.alloc(file.stats.size);
    const { bytesRead } = await file.handle.read(buffer, 0, buffer.length, 0);
    // Windows tools write these files with a byte order mark.
    const text = buffer.subarray(0, bytesRead).toString('utf8').replace(/^\uFEFF/, '');
    return { info: { ...info, Path: file.realPath }, text };
  } finally {
    await file.handle.close();
  }
}

const uriParams = z.strictObject({ uri: z.string().max(MAX_SPEC_BYTES) });

export const credentialSpecGetHandler = defineHandler(CredentialSpecGetRequest.type, {
  permission: 'credentialSpecs.read',
  params: uriParams,
  async handle(params, context) {
    const { info, text } = await loadSpec(params.uri, context);
    const { spec, problems } = validateCredentialSpecText(text);
    if (!spec) {
      const summary = problems.map((p) => `${p.Field || '(document)'}: ${p.Message}`).join('; ');
      // An inline spec is the caller's own data; a stored one is the host's.
      if (info.Source === 'raw') throw new InvalidParamsError(`uri: the credential spec is not valid: ${summary}`, 'uri', 'InvalidCredentialSpec');
      throw new BrokerError('HostOperationFailed', `the credential spec ${info.Uri} is not valid: ${summary}`, { reason: 'InvalidCredentialSpec', problems });
    }
    return { ...info, Spec: spec };
  },
});

export const credentialSpecTestHandler = defineHandler(CredentialSpecTestRequest.type, {
  permission: 'credentialSpecs.read',
  params: uriParams,
  async handle(params, context) {
    const { info, text } = await loadSpec(params.uri, context);
    const { spec, problems } = validateCredentialSpecText(text);
    const accounts = [];
    for (const account of (spec as CredentialSpec | undefined)?.ActiveDirectoryConfig?.GroupManagedServiceAccounts ?? []) {
      const check = await context.platform.credentialSpecs.checkServiceAccount(account.Name);
      accounts.push({ Name: account.Name, Scope: account.Scope, Resolved: check.resolved, Detail: check.detail });
    }
    return { ...info, Valid: problems.length === 0, Problems: problems as CredentialSpecProblem[], Accounts: accounts };
  },
});

export const credentialSpecListHandler = defineHandler(CredentialSpecListRequest.type, {
  permission: 'credentialSpecs.read',
  params: z.strictObject({}),
  async handle(_params, context) {
    const grant = specsGrant(context);
    const specs: CredentialSpecInfo[] = [];
    const directory = grant.directory ?? context.platform.credentialSpecs.defaultDirectory;
    const { files } = context.platform;
    const [root] = directory ? await resolveRoots([{ path: directory, rule: '' }], files.syntax) : [];
    if (root) {
      const join = files.syntax === 'win32' ? win32.join : posix.join;
      for (const name of (await readdir(root.real)).sort()) {
        const reference: CredentialSpecReference = { uri: `file://${name}`, source: 'file', name };
        if (!credentialSpecAllowed(reference, grant.allow)) continue;
        // Listed only what a get would read: a regular file whose real path stays in the directory.
        const real = await realpath(join(root.real, name)).catch(() => undefined);
        if (!real || !isWithin(root.real, normalizeHostPath(real, files.syntax), files.syntax)) continue;
        if (!(await stat(real)).isFile()) continue;
        specs.push({ Uri: reference.uri, Source: 'file', Name: name, Path: normalizeHostPath(real, files.syntax) });
      }
    }
    for (const name of (await context.platform.credentialSpecs.listRegistrySpecs()).sort()) {
      const reference: CredentialSpecReference = { uri: `registry://${name}`, source: 'registry', name };
      if (credentialSpecAllowed(reference, grant.allow)) specs.push({ Uri: reference.uri, Source: 'registry', Name: name });
    }
    return { specs };
  },
});

export const credentialSpecHandlers = [credentialSpecListHandler, credentialSpecGetHandler, credentialSpecTestHandler];
