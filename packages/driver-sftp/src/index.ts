import { DRIVER_CONTRACT_V1, defineDriverPlugin } from '@stowage/driver-contract';
import { sftpOptionsSchema, type SftpOptions } from './sftp-config.js';
import { SftpStore } from './sftp-store.js';

export { SftpStore } from './sftp-store.js';
export { sftpOptionsSchema, type SftpOptions, type SftpOptionsInput } from './sftp-config.js';
export { fingerprintOf } from './sftp-pool.js';

/** The plugin module the service loads: `driver: '@stowage/driver-sftp'`. */
const sftpDriver = defineDriverPlugin<SftpOptions>({
  contract: DRIVER_CONTRACT_V1,
  name: 'sftp',
  version: '0.1.0',
  optionsSchema: sftpOptionsSchema,
  create: (options, context) => new SftpStore(options, context),
});

export default sftpDriver;
