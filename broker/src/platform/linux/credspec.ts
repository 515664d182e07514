import { NotSupportedOnPlatformError } from '../../errors.js';
import type { HostPlatformCredentialSpecs } from '../types.js';

/** Linux hosts have no registry and no domain to ask; specs come from the policy's directory or inline. */
export const linuxCredentialSpecs: HostPlatformCredentialSpecs = {
  defaultDirectory: null,
  async readRegistrySpec() {
    throw new NotSupportedOnPlatformError('registry:// credential specs exist only on Windows hosts', 'linux');
  },
  async listRegistrySpecs() {
    return [];
  },
  async checkServiceAccount() {
    return { resolved: null, detail: 'gMSA accounts can be checked only on a domain-joined Windows host' };
  },
};
