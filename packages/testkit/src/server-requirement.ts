/**
 * How a test that needs a real server behaves when the server is missing: under CI (`CI=true`) it fails, so a
 * green CI always means the server ran; on a developer's machine it skips with the command that starts it.
 */
export interface ServerRequirement {
  /** True when the tests should run (the server is up). */
  readonly available: boolean;
  /** Use as `describe.skipIf(!req.available)`; logs why once. */
  readonly reason: string;
}

export function serverRequirement(server: string, available: boolean, startCommand: string, detail = ''): ServerRequirement {
  const reason = `${server} is not running${detail ? ` (${detail})` : ''}; start it with: ${startCommand}`;
  if (!available && process.env.CI === 'true') {
    throw new Error(`CI=true and ${reason}`);
  }
  if (!available) console.warn(`skipping tests that need ${server}: ${reason}`);
  return { available, reason };
}
