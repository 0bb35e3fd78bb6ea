/**
 * Request bodies are checked with zod schemas that mirror Cinder's JSON schemas (cinder/api/schemas/*.py), and
 * failures are reported as Cinder's validator does:
 * `Invalid input for field/attribute <key>. Value: <value>. <jsonschema message>` (400 badRequest).
 */
import { z } from 'zod';
import { UUID_PATTERN } from '../domain/uuid.js';
import { ApiFault } from './faults.js';

/** Cinder's parameter_types.boolean: JSON booleans and the strings oslo's bool_from_string accepts. */
export const cinderBoolean = z.union([
  z.boolean(),
  z
    .string()
    .refine((value) => ['true', 'false', 't', 'f', 'yes', 'no', 'y', 'n', 'on', 'off', '1', '0'].includes(value.toLowerCase()), {
      message: 'is not a valid boolean',
    }),
]);

export function toBoolean(value: boolean | string | null | undefined): boolean {
  if (typeof value === 'boolean') return value;
  return value !== undefined && value !== null && ['true', 't', 'yes', 'y', 'on', '1'].includes(value.toLowerCase());
}

/** parameter_types.uuid (jsonschema `format: uuid`). */
export const uuid = z.string().regex(UUID_PATTERN, { message: 'is not a \'uuid\'' });

/** Text the service stores: PostgreSQL refuses a NUL character in text, so no request may carry one to the database. */
export const storedText = (max: number, min = 0) =>
  z.string().min(min).max(max).refine((value) => !value.includes('\u0000'), { message: 'contains a NUL character' });

/** parameter_types.name_allow_zero_min_length / description: string or null, at most 255 characters. */
export const nullableText = storedText(255).nullable();

/** parameter_types.metadata_allows_null: string keys (1-255) to string values (0-255). */
export const metadata = z.record(storedText(255, 1), storedText(255)).nullable();

export function validateBody<Schema extends z.ZodType>(schema: Schema, body: unknown): z.output<Schema> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  throw new ApiFault(400, describeIssue(result.error.issues[0]!, body), { cause: result.error });
}

function describeIssue(issue: z.core.$ZodIssue, body: unknown): string {
  const path = [...issue.path];
  let message: string;
  let value: unknown;
  switch (issue.code) {
    case 'unrecognized_keys':
      value = valueAt(body, path);
      message = `Additional properties are not allowed (${issue.keys.map((key) => `'${key}'`).join(', ')} ${issue.keys.length === 1 ? 'was' : 'were'} unexpected)`;
      break;
    case 'invalid_key': {
      // Cinder's metadata schema only allows keys it matches (additionalProperties: false).
      const key = String(path.pop());
      value = valueAt(body, path);
      message = `Additional properties are not allowed (${pythonRepr(key)} was unexpected)`;
      break;
    }
    case 'invalid_type': {
      value = valueAt(body, path);
      if (value === undefined && path.length > 0) {
        const key = String(path.pop());
        value = valueAt(body, path);
        message = `'${key}' is a required property`;
      } else {
        message = `${pythonRepr(value)} is not of type '${jsonType(issue.expected)}'`;
      }
      break;
    }
    case 'too_big':
      value = valueAt(body, path);
      message = typeof value === 'string' ? `${pythonRepr(value)} is too long` : `${pythonRepr(value)} is greater than the maximum of ${String(issue.maximum)}`;
      break;
    case 'too_small':
      value = valueAt(body, path);
      message = typeof value === 'string' ? `${pythonRepr(value)} is too short` : `${pythonRepr(value)} is less than the minimum of ${String(issue.minimum)}`;
      break;
    case 'invalid_union':
      value = valueAt(body, path);
      message = `${pythonRepr(value)} is not valid under any of the given schemas`;
      break;
    default:
      value = valueAt(body, path);
      message = `${pythonRepr(value)} ${issue.message}`;
  }
  const key = path.length > 0 ? String(path[path.length - 1]) : undefined;
  if (key === undefined) return message;
  // Cinder formats the value with %s: strings bare, everything else as Python prints it.
  return `Invalid input for field/attribute ${key}. Value: ${typeof value === 'string' ? value : pythonRepr(value)}. ${message}`;
}

function valueAt(body: unknown, path: readonly PropertyKey[]): unknown {
  let current = body;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

function jsonType(expected: string): string {
  return ({ record: 'object', int: 'integer', nan: 'number' } as Record<string, string>)[expected] ?? expected;
}

/** Values as Python prints them in jsonschema messages (`'x'`, `None`, `True`, `{'a': 1}`). */
export function pythonRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (Array.isArray(value)) return `[${value.map(pythonRepr).join(', ')}]`;
  if (typeof value === 'object') {
    return `{${Object.entries(value as Record<string, unknown>).map(([k, v]) => `${pythonRepr(k)}: ${pythonRepr(v)}`).join(', ')}}`;
  }
  return String(value);
}
