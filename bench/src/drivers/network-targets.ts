import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SshdEndpoints as SshdServerEndpoints } from '@stowage/testkit';
import { REPO_ROOT } from '../options.js';
import type { DriverTarget } from './driver-target.js';
import { networkTarget } from './network-target.js';

/** What scripts/servers/swift.sh writes to <state>/endpoints.json (Swift with tempauth, S3 through s3api). */
interface SwiftEndpoints {
  readonly authUrl: string;
  readonly user: string;
  readonly key: string;
  readonly s3: { readonly endpoint: string; readonly region: string; readonly accessKeyId: string; readonly secretAccessKey: string };
}

/** The fields of scripts/servers/sshd.sh's endpoints the bench uses. */
type SshdEndpoints = Pick<
  SshdServerEndpoints,
  'host' | 'port' | 'user' | 'privateKeyPath' | 'knownHostsPath' | 'hostKeyFingerprint'
>;

/** What scripts/servers/nfs.sh writes (the fields the bench uses). */
interface NfsEndpoints {
  readonly server: string;
  readonly export: string;
  readonly nfsPort: number;
  readonly mountPort: number;
}

/** What scripts/servers/gcs-emulator.mjs writes. */
interface GcsEndpoints {
  readonly endpoint: string;
  readonly projectId: string;
}

const SWIFT_PLACEHOLDER: SwiftEndpoints = {
  authUrl: 'http://127.0.0.1:1/auth/v1.0',
  user: 'test:tester',
  key: 'testing',
  s3: { endpoint: 'http://127.0.0.1:1', region: 'us-east-1', accessKeyId: 'test:tester', secretAccessKey: 'testing' },
};

/** A module a driver depends on, resolved from the driver's folder (pnpm does not hoist it). */
function moduleOf(packageDir: string, specifier: string): string {
  return pathToFileURL(createRequire(join(REPO_ROOT, packageDir, 'package.json')).resolve(specifier)).href;
}

const swift = networkTarget<SwiftEndpoints>({
  name: 'swift',
  server: { file: 'swift.sh', runner: 'bash' },
  packageDir: 'packages/driver-swift',
  rawLabel: 'bare fetch PUT per chunk (tempauth token)',
  placeholder: SWIFT_PLACEHOLDER,
  driverOptions: (endpoints, container) => ({ auth_url: endpoints.authUrl, user: endpoints.user, key: endpoints.key, container }),
  rawTransfer: async ({ endpoints, volumePath, chunkSize, concurrency, container }) => ({
    op: 'raw-swift',
    volumePath,
    authUrl: endpoints.authUrl,
    user: endpoints.user,
    key: endpoints.key,
    container: `${container}-raw`,
    chunkSize,
    concurrency,
  }),
});

const s3 = networkTarget<SwiftEndpoints>({
  name: 's3',
  server: { file: 'swift.sh', runner: 'bash' },
  packageDir: 'packages/driver-s3',
  rawLabel: '@aws-sdk/client-s3 PutObject per chunk',
  placeholder: SWIFT_PLACEHOLDER,
  driverOptions: (endpoints, container) => ({
    endpoint: endpoints.s3.endpoint,
    region: endpoints.s3.region,
    access_key: endpoints.s3.accessKeyId,
    secret_key: endpoints.s3.secretAccessKey,
    force_path_style: true,
    bucket: container,
  }),
  rawTransfer: async ({ endpoints, volumePath, chunkSize, concurrency, container }) => ({
    op: 'raw-s3-sdk',
    volumePath,
    sdkModule: moduleOf('packages/driver-s3', '@aws-sdk/client-s3'),
    endpoint: endpoints.s3.endpoint,
    region: endpoints.s3.region,
    accessKeyId: endpoints.s3.accessKeyId,
    secretAccessKey: endpoints.s3.secretAccessKey,
    bucket: `${container}-raw`,
    chunkSize,
    concurrency,
  }),
});

/** Containers are folders under `bench/` in the login folder; the raw copy goes next to `bench/`. */
const sftp = networkTarget<SshdEndpoints>({
  name: 'sftp',
  server: { file: 'sshd.sh', runner: 'bash' },
  packageDir: 'packages/driver-sftp',
  rawLabel: 'OpenSSH sftp put of the volume file',
  placeholder: {
    host: '127.0.0.1',
    port: 1,
    user: 'root',
    privateKeyPath: '/nonexistent/client_ed25519',
    knownHostsPath: '/nonexistent/known_hosts',
    hostKeyFingerprint: 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU',
  },
  driverOptions: (endpoints, container) => ({
    host: endpoints.host,
    port: endpoints.port,
    username: endpoints.user,
    private_key_path: endpoints.privateKeyPath,
    host_key_fingerprint: endpoints.hostKeyFingerprint,
    path: 'bench',
    container,
  }),
  rawTransfer: async ({ endpoints, volumePath, container, directory }) => {
    // `sftp -b` reads its commands from a file (the bench's children get no stdin); a leading `-` ignores an error.
    const batch = join(directory, `${container}-raw.sftp`);
    await writeFile(batch, `-mkdir ${container}-raw\nput "${volumePath}" "${container}-raw/volume.img"\n`);
    const args = ['-q', '-b', batch, '-i', endpoints.privateKeyPath, '-P', String(endpoints.port), '-o', 'BatchMode=yes',
      '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${endpoints.knownHostsPath}`, `${endpoints.user}@${endpoints.host}`];
    return { command: 'sftp', args };
  },
});

/** Containers are folders under `bench/` in the export; the raw copy is one file at the export's root. */
const nfs = networkTarget<NfsEndpoints>({
  name: 'nfs',
  server: { file: 'nfs.sh', runner: 'bash' },
  packageDir: 'packages/driver-nfs',
  rawLabel: 'nfs-cp (libnfs-utils) of the volume file',
  placeholder: { server: '127.0.0.1', export: '/backup', nfsPort: 1, mountPort: 1 },
  driverOptions: (endpoints, container) => ({
    server: endpoints.server,
    export: endpoints.export,
    nfs_port: endpoints.nfsPort,
    mount_port: endpoints.mountPort,
    base_dir: 'bench',
    container,
  }),
  rawTransfer: async ({ endpoints, volumePath, container }) => {
    const url = `nfs://${endpoints.server}${endpoints.export}/${container}-raw.img?nfsport=${endpoints.nfsPort}&mountport=${endpoints.mountPort}`;
    return { command: 'nfs-cp', args: [volumePath, url] };
  },
});

/** The emulator takes no credentials: `anonymous`, and buckets created on first use. */
const gcs = networkTarget<GcsEndpoints>({
  name: 'gcs',
  server: { file: 'gcs-emulator.mjs', runner: 'node' },
  packageDir: 'packages/driver-gcs',
  rawLabel: '@google-cloud/storage save per chunk (single request)',
  placeholder: { endpoint: 'http://127.0.0.1:1', projectId: 'stowage-test' },
  driverOptions: (endpoints, container) => ({
    api_endpoint: endpoints.endpoint,
    anonymous: true,
    project_id: endpoints.projectId,
    bucket: container,
    create_bucket: true,
  }),
  rawTransfer: async ({ endpoints, volumePath, chunkSize, concurrency, container }) => ({
    op: 'raw-gcs-library',
    volumePath,
    storageModule: moduleOf('packages/driver-gcs', '@google-cloud/storage'),
    endpoint: endpoints.endpoint,
    projectId: endpoints.projectId,
    bucket: `${container}-raw`,
    chunkSize,
    concurrency,
  }),
});

export const networkTargets: readonly DriverTarget[] = [swift, s3, sftp, nfs, gcs];
