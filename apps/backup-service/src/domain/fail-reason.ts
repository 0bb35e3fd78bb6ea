/**
 * A backup's fail_reason is stored as the service wrote it (driver messages with file paths and URLs) for admins and
 * logs; a member sees it with those locations replaced, since they describe the deployment, not the member's backup.
 */
const URL_PATTERN = /\b[a-z][a-z0-9+.-]*:\/\/[^\s'"()<>]+/gi;
// An absolute path starts after the start, a space, a quote, "(" or "="; trailing punctuation stays outside.
const PATH_PATTERN = /(^|[\s'"(=])\/[^\s'"()<>]*[^\s'"()<>.,;:]/g;

export function memberFailReason(reason: string | null): string | null {
  if (reason === null) return null;
  return reason.replace(URL_PATTERN, '<url>').replace(PATH_PATTERN, '$1<path>');
}
