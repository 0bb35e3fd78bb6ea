/**
 * Network failures, recognised by their code rather than their message. fetch (undici) hides the code in `cause`
 * (`TypeError: fetch failed` -> `SocketError` -> `Error: connect ECONNREFUSED`), SDKs wrap it too, so the chain is
 * walked.
 */
export const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** How many `cause` links are followed; real chains are 2-3 deep, and a cyclic one must not loop. */
const MAX_CAUSE_DEPTH = 5;

/** The first network code found on `error` or its causes, or `undefined` when it is no network failure. */
export function networkErrorCode(error: unknown): string | undefined {
  let current = error;
  for (let depth = 0; current instanceof Error && depth < MAX_CAUSE_DEPTH; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) return code;
    current = current.cause;
  }
  return undefined;
}

/** True when `error` (or one of its causes) is a refused, reset, timed-out or unresolvable connection. */
export function isNetworkError(error: unknown): boolean {
  return networkErrorCode(error) !== undefined;
}
