/** Rows keep metadata as JSON text; these read it back leniently (a damaged value reads as empty, never throws). */
export function parseJsonObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Only the string values (Cinder's metadata is string to string). */
export function parseStringRecord(text: string): Record<string, string> {
  return Object.fromEntries(Object.entries(parseJsonObject(text)).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}
