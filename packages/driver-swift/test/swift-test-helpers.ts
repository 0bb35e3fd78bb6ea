/** Swift-specific helpers for the tests; the cluster itself comes from the testkit's `swiftTestServer()`. */
import type { SwiftEndpoints } from '@stowage/testkit';
import { setTimeout as sleep } from 'node:timers/promises';

export { swiftTestServer, type SwiftEndpoints } from '@stowage/testkit';

const DELETE_CONCURRENCY = 8;

/**
 * `fetch` as a careful client uses it on a loaded machine: a 5xx or a refused connection (the proxy restarting after
 * a fault test) is retried a bounded number of times before the test helper gives up.
 */
async function fetchRetrying(url: string, init: RequestInit = {}, attempts = 6): Promise<Response> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      const response = await fetch(url, init);
      if (response.status < 500 || attempt >= attempts) return response;
      await response.body?.cancel();
    } catch (error) {
      if (attempt >= attempts) throw error;
    }
    await sleep(250 * 2 ** (attempt - 1));
  }
}

export async function adminToken(endpoints: SwiftEndpoints): Promise<string> {
  const response = await fetchRetrying(endpoints.authUrl, { headers: { 'X-Auth-User': endpoints.user, 'X-Auth-Key': endpoints.key } });
  const token = response.headers.get('x-auth-token');
  await response.body?.cancel();
  if (!response.ok || !token) throw new Error(`test auth failed: HTTP ${response.status}`);
  return token;
}

/**
 * A Swift client for test clean-up that behaves like a real one: a 401 (tempauth keeps tokens in memcached, which
 * can miss on a loaded machine or after a proxy restart) gets a fresh token and one more try, a bounded number of times.
 */
function swiftClient(endpoints: SwiftEndpoints): (url: string, method?: string) => Promise<Response> {
  let token: string | undefined;
  return async (url, method = 'GET') => {
    for (let attempt = 1; ; attempt += 1) {
      token ??= await adminToken(endpoints);
      const response = await fetchRetrying(url, { method, headers: { 'X-Auth-Token': token } });
      if (response.status !== 401 || attempt >= 4) return response;
      await response.body?.cancel();
      token = undefined;
    }
  };
}

/** Delete a container and everything in it (404s ignored). */
export async function deleteContainer(endpoints: SwiftEndpoints, container: string): Promise<void> {
  const swift = swiftClient(endpoints);
  const base = `${endpoints.storageUrl}/${encodeURIComponent(container)}`;
  // Bounded: a container the helper cannot empty in this many pages is a failure, not a hang.
  for (let page = 0; page < 1000; page += 1) {
    const listing = await swift(`${base}?format=json&limit=1000`);
    if (listing.status === 404) {
      await listing.body?.cancel();
      return;
    }
    if (!listing.ok) throw new Error(`listing ${container} for clean-up failed: HTTP ${listing.status}: ${(await listing.text()).slice(0, 200)}`);
    const names = ((await listing.json()) as Array<{ name: string }>).map((entry) => entry.name);
    if (names.length === 0) break;
    // A few deletes at a time: a thousand at once exhaust the proxy's memcached connections (2 per server), and
    // tempauth then error-limits memcached for a minute, failing every token check (401/503) in later tests.
    let next = 0;
    await Promise.all(
      Array.from({ length: DELETE_CONCURRENCY }, async () => {
        while (next < names.length) {
          const name = names[next++]!;
          const response = await swift(`${base}/${name.split('/').map(encodeURIComponent).join('/')}`, 'DELETE');
          await response.body?.cancel();
        }
      }),
    );
  }
  const response = await swift(base, 'DELETE');
  await response.body?.cancel();
}
