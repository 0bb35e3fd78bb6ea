/** The authenticators on their own: noauth's token parsing, and the tokens file (hashes only, reloads, bad edits). */
import { utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '@stowage/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationError } from '../src/api/auth/authenticator.js';
import { NoAuthAuthenticator } from '../src/api/auth/noauth-authenticator.js';
import { TokenFileAuthenticator } from '../src/api/auth/token-file-authenticator.js';
import { tempDir } from './helpers/service-process.js';
import { sha256Hex } from './helpers/volume-files.js';

let dir: { path: string; remove: () => Promise<void> };
beforeAll(async () => (dir = await tempDir('tokens')));
afterAll(async () => dir.remove());

describe('noauth', () => {
  it("splits user:project as Cinder's NoAuthMiddleware; everyone is admin", async () => {
    const auth = new NoAuthAuthenticator();
    expect(await auth.authenticate({ 'x-auth-token': 'u1:p1' })).toEqual({ userId: 'u1', projectId: 'p1', roles: ['admin'], isAdmin: true });
    expect(await auth.authenticate({ 'x-auth-token': 'solo' })).toMatchObject({ userId: 'solo', projectId: 'solo' });
    await expect(auth.authenticate({})).rejects.toBeInstanceOf(AuthenticationError);
  });
});

describe('tokens file', () => {
  it('matches sha256 hashes, reloads on change, keeps the last good list when an edit is broken', async () => {
    const file = join(dir.path, 'tokens.yaml');
    await writeFile(file, `tokens:\n  - {sha256: ${sha256Hex('t-one')}, user_id: u1, project_id: p1, roles: [member]}\n`);
    const errors: Error[] = [];
    const auth = await TokenFileAuthenticator.open(file, (error) => errors.push(error));
    expect(await auth.authenticate({ 'x-auth-token': 't-one' })).toEqual({ userId: 'u1', projectId: 'p1', roles: ['member'], isAdmin: false });
    // The hash itself is not a token.
    await expect(auth.authenticate({ 'x-auth-token': sha256Hex('t-one') })).rejects.toBeInstanceOf(AuthenticationError);

    await writeFile(file, `tokens:\n  - {sha256: ${sha256Hex('t-two')}, user_id: u2, project_id: p2, roles: [admin]}\n`);
    await utimes(file, new Date(), new Date(Date.now() + 2000));
    expect(await auth.authenticate({ 'x-auth-token': 't-two' })).toMatchObject({ userId: 'u2', isAdmin: true });
    await expect(auth.authenticate({ 'x-auth-token': 't-one' })).rejects.toBeInstanceOf(AuthenticationError);

    await writeFile(file, 'tokens:\n  - {sha256: not-hex, user_id: u3}\n');
    await utimes(file, new Date(), new Date(Date.now() + 4000));
    expect(await auth.authenticate({ 'x-auth-token': 't-two' })).toMatchObject({ userId: 'u2' });
    await auth.authenticate({ 'x-auth-token': 't-two' });
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toContain('tokens.0.sha256: must be the hex sha256 of the token');
  });

  it('a missing or malformed file at start-up is a ConfigError naming it', async () => {
    const missing = join(dir.path, 'nope.yaml');
    await expect(TokenFileAuthenticator.open(missing)).rejects.toThrow(`cannot read auth_tokens_file ${missing}`);
    const bad = join(dir.path, 'bad.yaml');
    await writeFile(bad, 'tokens: [{user_id: x}]\n');
    const error = await TokenFileAuthenticator.open(bad).catch((caught: unknown) => caught);
    expect(ConfigError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain('tokens.0.sha256');
  });
});
