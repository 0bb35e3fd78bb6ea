/**
 * `@stowage/driver-gcs`: a Google Cloud Storage bucket as a Stowage backend, over @google-cloud/storage.
 */
import { DRIVER_CONTRACT_V1, defineDriverPlugin } from '@stowage/driver-contract';
import { createRequire } from 'node:module';
import { gcsOptionsSchema, type GcsOptions } from './gcs-config.js';
import { GcsStore } from './gcs-store.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

const plugin = defineDriverPlugin<GcsOptions>({
  contract: DRIVER_CONTRACT_V1,
  name: 'gcs',
  version,
  optionsSchema: gcsOptionsSchema,
  create: (options, context) => new GcsStore(options, context),
});

export default plugin;
export { GcsStore } from './gcs-store.js';
export { gcsOptionsSchema, type GcsOptions, type GcsOptionsInput } from './gcs-config.js';
