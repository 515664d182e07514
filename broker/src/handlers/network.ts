import { z } from 'zod';
import { NetworkAdaptersRequest, NetworkRoutesRequest } from '../../../typings/index.js';
import { NotFoundError } from '../errors.js';
import { defineHandler } from './types.js';

const interfaceIndex = z.number().int().min(0).max(0xffffffff);

export const networkAdaptersHandler = defineHandler(NetworkAdaptersRequest.type, {
  permission: 'network.read',
  params: z.strictObject({
    interfaceIndex: interfaceIndex.optional(),
    name: z.string().min(1).max(256).optional(),
    defaultOnly: z.boolean().optional(),
  }),
  async handle(params, context) {
    const snapshot = await context.platform.network.adapters();
    const adapters = snapshot.adapters.filter(
      (adapter) =>
        (params.interfaceIndex === undefined || adapter.InterfaceIndex === params.interfaceIndex) &&
        (params.name === undefined || adapter.Name === params.name) &&
        (!params.defaultOnly || adapter.IsDefault),
    );
    if (adapters.length === 0 && (params.interfaceIndex !== undefined || params.name !== undefined || params.defaultOnly)) {
      const wanted = params.defaultOnly && params.interfaceIndex === undefined && params.name === undefined
        ? 'the host has no default route, so there is no default adapter'
        : `no adapter matches ${JSON.stringify({ interfaceIndex: params.interfaceIndex, name: params.name, defaultOnly: params.defaultOnly })}`;
      throw new NotFoundError(wanted, { interfaceIndex: params.interfaceIndex, name: params.name });
    }
    return { adapters, defaultInterfaceIndex: snapshot.defaultInterfaceIndex };
  },
});

export const networkRoutesHandler = defineHandler(NetworkRoutesRequest.type, {
  permission: 'network.read',
  params: z.strictObject({
    addressFamily: z.enum(['IPv4', 'IPv6']).optional(),
    interfaceIndex: interfaceIndex.optional(),
  }),
  async handle(params, context) {
    const routes = (await context.platform.network.routes()).filter(
      (route) =>
        (params.addressFamily === undefined || route.AddressFamily === params.addressFamily) &&
        (params.interfaceIndex === undefined || route.InterfaceIndex === params.interfaceIndex),
    );
    return { routes };
  },
});

export const networkHandlers = [networkAdaptersHandler, networkRoutesHandler];
