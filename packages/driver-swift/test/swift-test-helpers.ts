/** Swift-specific helpers for the tests; the cluster itself comes from the testkit's `swiftTestServer()`. */
import type { SwiftEndpoints } from '@stowage/testkit';
import { setTimeout as sleep } from 'node:timers/promises';

export { swiftTestServer, type SwiftEndpoints } from '@stowage/testkit';

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

/** Delete a container and everything in it (404s ignored). */
export async function deleteContainer(endpoints: SwiftEndpoints, container: string): Promise<void> {
  const token = await adminToken(endpoints);
  const headers = { 'X-Auth-Token': token };
  const base = `${endpoints.storageUrl}/${encodeURIComponent(container)}`;
  // Bounded: a container the helper cannot empty in this many pages is a failure, not a hang.
  for (let page = 0; page < 1000; page += 1) {
    const listing = await fetchRetrying(`${base}?format=json&limit=1000`, { headers });
    if (listing.status === 404) {
      await listing.body?.cancel();
      return;
    }
    if (!listing.ok) throw new Error(`listing ${container} for clean-up failed: HTTP ${listing.status}: ${(await listing.text()).slice(0, 200)}`);
    const names = ((await listing.json()) as Array<{ name: string }>).map((entry) => entry.name);
    if (names.length === 0) break;
    await Promise.all(
      names.map(async (name) => {
        const url = `${base}/${name.split('/').map(encodeURIComponent).join('/')}`;
        const response = await fetchRetrying(url, { method: 'DELETE', headers });
        await response.body?.cancel();
      }),
    );
  }
  const response = await fetchRetrying(base, { method: 'DELETE', headers });
  await response.body?.cancel();
}
