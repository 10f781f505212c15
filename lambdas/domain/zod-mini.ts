import en from 'zod/v4/locales/en.js';
import * as z from 'zod/mini';

/**
 * `zod/mini` with the English messages: import it from here. The schemas the request path builds
 * use this tree-shakable API because loading the classic API's module costs the submit function
 * more init time than anything else above the bare SDK client. Unlike the classic API, `zod/mini`
 * registers no locale, so without this every issue would read "Invalid input".
 */
z.config(en());

export * from 'zod/mini';

/**
 * A copy of `schema` carrying `meta` in the global registry, as the classic API's `.meta()` makes
 * it: the OpenAPI document and the agents' JSON Schema read descriptions and ids from there.
 */
export function withMeta<S extends z.core.$ZodType>(schema: S, meta: z.core.GlobalMeta): S {
  const copy = z.clone(schema);
  z.globalRegistry.add(copy, meta);
  return copy;
}

/**
 * A schema of either zod API, the classic one or `zod/mini`, as code that only parses with it takes
 * it: both have `safeParse`, so taking one loads neither module.
 */
export type ParseableSchema<Output = unknown> = z.core.$ZodType<Output> & {
  safeParse(value: unknown): z.core.util.SafeParseResult<Output>;
};
