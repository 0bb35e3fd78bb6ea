/**
 * `@stowage/driver-swift`: OpenStack Swift as a Stowage backend (tempauth v1 or Keystone v3), over Node's fetch.
 */
import { DRIVER_CONTRACT_V1, defineDriverPlugin } from '@stowage/driver-contract';
import { createRequire } from 'node:module';
import { swiftOptionsSchema, type SwiftOptions } from './swift-config.js';
import { SwiftStore } from './swift-store.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

const plugin = defineDriverPlugin<SwiftOptions>({
  contract: DRIVER_CONTRACT_V1,
  name: 'swift',
  version,
  optionsSchema: swiftOptionsSchema,
  create: (options, context) => new SwiftStore(options, context),
});

export default plugin;
export { SwiftStore } from './swift-store.js';
export { swiftOptionsSchema, type SwiftOptions, type SwiftOptionsInput } from './swift-config.js';
export { SwiftHttpError, SwiftTimeoutError } from './swift-errors.js';
