import { z } from 'zod';
import { SessionInvokeRequest, SessionListRequest, SessionNewRequest, SessionOutputNotification, SessionRemoveRequest } from '../../../typings/index.js';
import type { SessionOwner } from './session-manager.js';
import { defineHandler, type RequestContext } from './types.js';

function owner(context: RequestContext): SessionOwner {
  return { connectionId: context.connectionId, caller: context.caller, profileName: context.profile.name, profile: context.profile.grant };
}

/** As `New-PSSession -Name`: any printable text; control characters would garble listings and logs. */
const sessionName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[^\p{Cc}]+$/u, 'must not contain control characters');
const targetName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "must be 'host' or a container name");
const sessionId = z.string().min(1).max(64);
/** Scripts, arguments and input are bounded by the message size anyway; this only keeps the type honest. */
const text = z.string().max(64 * 1024 * 1024);

export const sessionNewHandler = defineHandler(SessionNewRequest.type, {
  permission: 'sessions.open',
  params: z.strictObject({ name: sessionName.optional(), target: targetName.optional() }),
  async handle(params, context) {
    return context.services.sessions.open(owner(context), params);
  },
});

export const sessionListHandler = defineHandler(SessionListRequest.type, {
  permission: 'sessions.open',
  params: z.strictObject({}),
  async handle(_params, context) {
    return { sessions: context.services.sessions.list(context.connectionId) };
  },
});

export const sessionRemoveHandler = defineHandler(SessionRemoveRequest.type, {
  permission: 'sessions.open',
  params: z.strictObject({ sessionId }),
  async handle(params, context) {
    return context.services.sessions.remove(context.connectionId, params.sessionId);
  },
});

export const sessionInvokeHandler = defineHandler(SessionInvokeRequest.type, {
  permission: 'sessions.open',
  params: z.strictObject({
    sessionId: sessionId.optional(),
    target: targetName.optional(),
    script: text,
    arguments: text.optional(),
    input: text.optional(),
    using: text.optional(),
    depth: z.number().int().min(1).max(10).optional(),
    timeoutSeconds: z.number().int().min(0).max(7 * 24 * 3600).optional(),
  }),
  async handle(params, context) {
    return context.services.sessions.invoke(owner(context), params, {
      notify: (notification) => context.notify(SessionOutputNotification.type, notification),
      congested: context.congested,
      drained: context.drained,
      token: context.token,
    });
  },
});

export const sessionHandlers = [sessionNewHandler, sessionListHandler, sessionRemoveHandler, sessionInvokeHandler];
