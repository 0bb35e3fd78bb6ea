import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { ConfigError } from '@stowage/core';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { AuthenticationError, headerValue, type Authenticator, type Identity } from './authenticator.js';

const tokensFileSchema = z.strictObject({
  tokens: z.array(
    z.strictObject({
      sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be the hex sha256 of the token (64 hex digits)'),
      user_id: z.string().min(1),
      project_id: z.string().min(1),
      roles: z.array(z.string().min(1)).default(['member']),
    }),
  ),
});

interface TokenEntry {
  readonly digest: Buffer;
  readonly identity: Identity;
}

/**
 * `auth_strategy: tokens`: static tokens from a YAML file holding only their sha256, each bound to a user, a
 * project and roles (`admin` makes the caller an admin). The file is re-read when its mtime or size changes; a
 * file that no longer parses keeps the last good token list (logged through `onReloadError`).
 */
export class TokenFileAuthenticator implements Authenticator {
  readonly strategy = 'tokens';
  readonly #path: string;
  readonly #onReloadError: (error: Error) => void;
  #entries: readonly TokenEntry[] = [];
  #signature = '';
  #loading: Promise<void> | undefined;

  private constructor(path: string, onReloadError: (error: Error) => void) {
    this.#path = path;
    this.#onReloadError = onReloadError;
  }

  /** Loads the file once; a missing or malformed file at start-up is a `ConfigError`. */
  static async open(path: string, onReloadError: (error: Error) => void = () => undefined): Promise<TokenFileAuthenticator> {
    const authenticator = new TokenFileAuthenticator(path, onReloadError);
    await authenticator.#reload(true);
    return authenticator;
  }

  async authenticate(headers: IncomingHttpHeaders): Promise<Identity> {
    const token = headerValue(headers, 'x-auth-token');
    if (token === undefined || token === '') throw new AuthenticationError('Authentication required');
    await this.#refresh();
    const digest = createHash('sha256').update(token).digest();
    const entry = this.#entries.find((candidate) => timingSafeEqual(candidate.digest, digest));
    if (!entry) throw new AuthenticationError('Authentication required');
    return entry.identity;
  }

  async #refresh(): Promise<void> {
    this.#loading ??= this.#reload(false).finally(() => (this.#loading = undefined));
    await this.#loading;
  }

  async #reload(initial: boolean): Promise<void> {
    try {
      const info = await stat(this.#path);
      const signature = `${info.mtimeMs}:${info.size}:${info.ino}`;
      if (signature === this.#signature) return;
      // Remembered before parsing: a broken file is reported once per change, not on every request.
      this.#signature = signature;
      const parsed = tokensFileSchema.safeParse(parseYaml(await readFile(this.#path, 'utf8')));
      if (!parsed.success) {
        const fields = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(top level)'}: ${issue.message}`).join('; ');
        throw new ConfigError(`auth_tokens_file ${this.#path} is invalid: ${fields}`, []);
      }
      this.#entries = parsed.data.tokens.map((token) => ({
        digest: Buffer.from(token.sha256, 'hex'),
        identity: { userId: token.user_id, projectId: token.project_id, roles: token.roles, isAdmin: token.roles.includes('admin') },
      }));
    } catch (error) {
      const failure = ConfigError.isInstance(error)
        ? error
        : new ConfigError(`cannot read auth_tokens_file ${this.#path}: ${(error as Error).message}`, [], { cause: error });
      if (initial) throw failure;
      this.#onReloadError(failure);
    }
  }
}
