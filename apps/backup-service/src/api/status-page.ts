/** The status page: one static HTML file with its script inline (no build step), read once and cached. */
import { readFileSync } from 'node:fs';

let html: string | undefined;

/** The page, told which auth strategy it runs under (noauth: it sends the noauth token itself). */
export function statusPageHtml(strategy: string): string {
  html ??= readFileSync(new URL('../../static/status.html', import.meta.url), 'utf8');
  return html.replace('data-auth=""', `data-auth="${strategy === 'noauth' ? 'noauth' : 'token'}"`);
}
