import { z } from 'zod';
import { HostInfoRequest } from '../../../typings/index.js';
import { defineHandler } from './types.js';

export const hostInfoHandler = defineHandler(HostInfoRequest.type, {
  permission: 'host.read',
  params: z.strictObject({}),
  async handle(_params, context) {
    return { ...(await context.platform.host.info()), BrokerVersion: context.brokerVersion };
  },
});

export const hostHandlers = [hostInfoHandler];
