import { DRIVER_CONTRACT_V1, defineDriverPlugin } from '@stowage/driver-contract';
import { posixOptionsSchema, type PosixOptions } from './posix-config.js';
import { PosixStore } from './posix-store.js';

export { PosixStore } from './posix-store.js';
export { posixOptionsSchema, type PosixOptions } from './posix-config.js';

/** The plugin module the service loads: `driver: '@stowage/driver-posix'`. */
const posixDriver = defineDriverPlugin<PosixOptions>({
  contract: DRIVER_CONTRACT_V1,
  name: 'posix',
  version: '0.1.0',
  optionsSchema: posixOptionsSchema,
  create: (options, context) => new PosixStore(options, context),
});

export default posixDriver;
