/**
 * `@stowage/driver-s3`: any S3-compatible object store as a Stowage backend, over the AWS SDK v3.
 */
import { DRIVER_CONTRACT_V1, defineDriverPlugin } from '@stowage/driver-contract';
import { createRequire } from 'node:module';
import { s3OptionsSchema, type S3Options } from './s3-config.js';
import { S3Store } from './s3-store.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

const plugin = defineDriverPlugin<S3Options>({
  contract: DRIVER_CONTRACT_V1,
  name: 's3',
  version,
  optionsSchema: s3OptionsSchema,
  create: (options, context) => new S3Store(options, context),
});

export default plugin;
export { S3Store } from './s3-store.js';
export { s3OptionsSchema, type S3Options, type S3OptionsInput } from './s3-config.js';
