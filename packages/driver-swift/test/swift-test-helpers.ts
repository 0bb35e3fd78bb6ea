/** Swift-specific helpers for the tests; the cluster itself comes from the testkit's `swiftTestServer()`. */
import type { SwiftEndpoints } from '@stowage/testkit';

export { swiftTestServer, type SwiftEndpoints } from '@stowage/testkit';

export async function adminToken(endpoints: SwiftEndpoints): Promise<string> {
  const response = await fetch(endpoints.authUrl, { headers: { 'X-Auth-User': endpoints.user, 'X-Auth-Key': endpoints.key } });
  const token = response.headers.get('x-auth-token');
  if (!response.ok || !token) throw new Error(`test auth failed: HTTP ${response.status}`);
  return token;
}

/** Delete a container and everything in it (404s ignored). */
export async function deleteContainer(endpoints: SwiftEndpoints, container: string): Promise<void> {
  const token = await adminToken(endpoints);
  const base = `${endpoints.storageUrl}/${encodeURIComponent(container)}`;
  for (;;) {
    const listing = await fetch(`${base}?format=json&limit=1000`, { headers: { 'X-Auth-Token': token } });
    if (listing.status === 404) return;
    const names = ((await listing.json()) as Array<{ name: string }>).map((entry) => entry.name);
    if (names.length === 0) break;
    await Promise.all(
      names.map(async (name) => {
        const url = `${base}/${name.split('/').map(encodeURIComponent).join('/')}`;
        const response = await fetch(url, { method: 'DELETE', headers: { 'X-Auth-Token': token } });
        await response.body?.cancel();
      }),
    );
  }
  const response = await fetch(base, { method: 'DELETE', headers: { 'X-Auth-Token': token } });
  await response.body?.cancel();
}
