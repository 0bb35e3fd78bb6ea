/**
 * Driver options schemas follow the Standard Schema interface (https://standardschema.dev), so a driver can
 * use zod 4, valibot, arktype or a hand-written validator, and the contract needs none of them.
 */
import { ConfigError, type ConfigIssue } from './errors.js';

export interface OptionsSchema<Output = unknown> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
    readonly types?: { readonly input: unknown; readonly output: Output } | undefined;
  };
}

export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: readonly StandardIssue[] };

export interface StandardIssue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
}

export type OptionsOf<S> = S extends OptionsSchema<infer O> ? O : never;

/**
 * Validate `value` with `schema`. On failure throws one `ConfigError` naming every bad field, each path
 * prefixed with `pathPrefix` (e.g. `backends[1].options`).
 */
export async function validateOptions<O>(schema: OptionsSchema<O>, value: unknown, pathPrefix: string): Promise<O> {
  const result = await schema['~standard'].validate(value);
  if (result.issues === undefined) return result.value;
  const issues: ConfigIssue[] = result.issues.map((issue) => ({
    path: joinPath(pathPrefix, issue.path ?? []),
    message: issue.message,
  }));
  const lines = issues.map((issue) => `  - ${issue.path}: ${issue.message}`).join('\n');
  throw new ConfigError(`invalid options at ${pathPrefix}:\n${lines}`, issues);
}

function joinPath(prefix: string, path: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }>): string {
  let out = prefix;
  for (const segment of path) {
    const key = typeof segment === 'object' ? segment.key : segment;
    out += typeof key === 'number' ? `[${key}]` : `.${String(key)}`;
  }
  return out;
}
