import { describe, expect, it } from 'vitest';
import { NETWORK_ERROR_CODES, isNetworkError, networkErrorCode } from '../src/index.js';

const coded = (code: string, cause?: unknown) => Object.assign(new Error(`failed with ${code}`, { cause }), { code });

describe('network-error classification', () => {
  it('knows the socket-level codes and undici’s', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']) {
      expect(NETWORK_ERROR_CODES.has(code), code).toBe(true);
    }
    for (const code of ['UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED']) {
      expect(NETWORK_ERROR_CODES.has(code), code).toBe(true);
    }
  });

  it('finds the code where fetch hides it: in the cause of a TypeError', () => {
    const fetchFailed = new TypeError('fetch failed', { cause: coded('ECONNREFUSED') });
    expect(networkErrorCode(fetchFailed)).toBe('ECONNREFUSED');
    expect(isNetworkError(fetchFailed)).toBe(true);
    expect(networkErrorCode(new Error('outer', { cause: coded('UND_ERR_SOCKET') }))).toBe('UND_ERR_SOCKET');
  });

  it('ignores other codes and non-errors', () => {
    expect(networkErrorCode(coded('ENOENT'))).toBeUndefined();
    expect(networkErrorCode(new Error('no code'))).toBeUndefined();
    expect(isNetworkError({ code: 'ECONNRESET' })).toBe(false);
    expect(isNetworkError(undefined)).toBe(false);
  });

  it('walks a bounded number of causes, so a cyclic chain ends', () => {
    const cyclic = new Error('a') as Error & { cause?: unknown };
    cyclic.cause = cyclic;
    expect(networkErrorCode(cyclic)).toBeUndefined();
    let deep: unknown = coded('ECONNRESET');
    for (let depth = 0; depth < 10; depth += 1) deep = new Error(`wrap ${depth}`, { cause: deep });
    expect(networkErrorCode(deep)).toBeUndefined();
  });
});
