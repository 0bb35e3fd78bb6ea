/** OpenStack API microversions (`OpenStack-API-Version: volume 3.x`), Cinder's range 3.0-3.70. */
import { ApiFault } from './faults.js';

export interface Microversion {
  readonly major: number;
  readonly minor: number;
}

export const MIN_VERSION: Microversion = { major: 3, minor: 0 };
export const MAX_VERSION: Microversion = { major: 3, minor: 70 };
export const VERSION_HEADER = 'openstack-api-version';

export function formatVersion(version: Microversion): string {
  return `${version.major}.${version.minor}`;
}

/** At least `minor` (3.x). */
export function atLeast(version: Microversion, minor: number): boolean {
  return version.major > 3 || (version.major === 3 && version.minor >= minor);
}

/** Parse the request header; no header means 3.0, `latest` the maximum. Out of range is 406 as in Cinder. */
export function parseMicroversion(header: string | string[] | undefined): Microversion {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') return MIN_VERSION;
  // As in Cinder, a header that names no volume version is refused, not read as 3.0: the client asked for
  // something, and serving it at 3.0 would answer a question it did not ask.
  const entry = value.split(',').map((part) => part.trim()).find((part) => /^volume(?:\s|$)/i.test(part));
  if (entry === undefined) throw new ApiFault(400, `API Version String "${value.slice(0, 64)}" names no volume version. Must be of format "volume MajorNum.MinorNum".`);
  const requested = entry.slice('volume'.length).trim();
  if (requested === '') throw new ApiFault(400, 'API Version String is empty. Must be of format MajorNum.MinorNum.');
  if (requested.toLowerCase() === 'latest') return MAX_VERSION;
  // Cinder's pattern: no leading zeros (`03.070` is not a version, whatever it would parse to).
  const parts = /^([1-9]\d*)\.([1-9]\d*|0)$/.exec(requested);
  if (!parts) throw new ApiFault(400, `API Version String ${requested} is of invalid format. Must be of format MajorNum.MinorNum.`);
  const version = { major: Number(parts[1]), minor: Number(parts[2]) };
  const below = version.major < MIN_VERSION.major || (version.major === MIN_VERSION.major && version.minor < MIN_VERSION.minor);
  const above = version.major > MAX_VERSION.major || (version.major === MAX_VERSION.major && version.minor > MAX_VERSION.minor);
  if (below || above) {
    throw new ApiFault(
      406,
      `Version ${requested} is not supported by the API. Minimum is ${formatVersion(MIN_VERSION)} and maximum is ${formatVersion(MAX_VERSION)}.`,
    );
  }
  return version;
}
