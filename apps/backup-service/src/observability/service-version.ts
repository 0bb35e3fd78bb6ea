/** The service's own package version, for `stowage_build_info` (read once from its package.json). */
import { readFileSync } from 'node:fs';

let version: string | undefined;

export function serviceVersion(): string {
  // src/observability and dist/observability are both two levels below the package root.
  version ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return version;
}
