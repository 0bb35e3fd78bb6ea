/**
 * The container names every driver accepts: a plain folder or container name (posix refuses anything else, Swift
 * refuses "/"), 1-255 characters of letters, digits, "_", "." and "-", not starting with "." or "-". The API refuses
 * other names, so a backup can never be recorded with a container no backend can hold.
 */
export const CONTAINER_NAME_PATTERN = '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$';
const CONTAINER_NAME = new RegExp(CONTAINER_NAME_PATTERN);

export function isValidContainerName(name: string): boolean {
  return CONTAINER_NAME.test(name);
}
