/**
 * `@stowage/driver-nfs`: an NFSv3 export as a Stowage backend, through the package's own userspace ONC-RPC/XDR
 * client (MOUNT v3 + NFSv3 over TCP, AUTH_SYS): no kernel mount, no root-only helper.
 */
import { DRIVER_CONTRACT_V1, defineDriverPlugin } from '@stowage/driver-contract';
import { createRequire } from 'node:module';
import { nfsOptionsSchema, type NfsOptions } from './nfs-config.js';
import { NfsStore } from './nfs-store.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

const plugin = defineDriverPlugin<NfsOptions>({
  contract: DRIVER_CONTRACT_V1,
  name: 'nfs',
  version,
  optionsSchema: nfsOptionsSchema,
  create: (options, context) => new NfsStore(options, context),
});

export default plugin;
export { NfsStore } from './nfs-store.js';
export { nfsOptionsSchema, type NfsOptions, type NfsOptionsInput } from './nfs-config.js';
export { Nfs3Client, Nfs3Error, MountError, type Nfs3ClientOptions } from './nfs3/nfs3-client.js';
export { RpcClient, RpcConnectionError, RpcRejectedError, RpcTimeoutError, type AuthSys } from './rpc/rpc-client.js';
