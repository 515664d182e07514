import { z } from 'zod';
import { InitializeRequest, ProtocolVersion } from '../../../typings/index.js';
import { InvalidParamsError } from '../errors.js';
import { defineHandler } from './types.js';

export const SupportedProtocolVersions = [ProtocolVersion];

export const initializeHandler = defineHandler(InitializeRequest.type, {
  permission: 'none',
  params: z.strictObject({
    clientInfo: z.strictObject({ name: z.string().min(1).max(256), version: z.string().max(64).optional() }),
    protocolVersion: z.number().int(),
  }),
  async handle(params, context) {
    if (!SupportedProtocolVersions.includes(params.protocolVersion as typeof ProtocolVersion)) {
      throw new InvalidParamsError(
        `protocolVersion ${params.protocolVersion} is not supported; this broker speaks ${SupportedProtocolVersions.join(', ')}`,
        'protocolVersion',
        'UnsupportedProtocolVersion',
      );
    }
    return {
      serverInfo: { name: 'winshost-broker', version: context.brokerVersion, platform: context.platform.name },
      protocolVersion: params.protocolVersion,
      capabilities: { methods: context.grantedMethods() },
      caller: context.caller,
    };
  },
});
