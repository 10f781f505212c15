import * as z from 'zod';

/** Definition fields that hold one schema (object shapes, union options and lazy getters aside). */
const INNER = [
  'element',
  'innerType',
  'in',
  'out',
  'keyType',
  'valueType',
  'catchall',
  'left',
  'right',
] as const;
type Def = Record<string, unknown>;

/**
 * The classic constructor of each `zod/mini` schema type the request schemas use. Listed rather
 * than looked up on the namespace by name, which would keep all of zod (its locales too) in the
 * document's bundle.
 */
const CLASSIC: Record<string, new (def: Def) => z.ZodType> = {
  ZodMiniArray: z.ZodArray,
  ZodMiniBoolean: z.ZodBoolean,
  ZodMiniDefault: z.ZodDefault,
  ZodMiniEnum: z.ZodEnum,
  ZodMiniLazy: z.ZodLazy,
  ZodMiniLiteral: z.ZodLiteral,
  ZodMiniNullable: z.ZodNullable,
  ZodMiniNever: z.ZodNever,
  ZodMiniNumber: z.ZodNumber,
  ZodMiniNumberFormat: z.ZodNumberFormat,
  ZodMiniObject: z.ZodObject,
  ZodMiniOptional: z.ZodOptional,
  ZodMiniRecord: z.ZodRecord,
  ZodMiniString: z.ZodString,
  ZodMiniURL: z.ZodURL,
  ZodMiniUnion: z.ZodUnion,
  ZodMiniUnknown: z.ZodUnknown,
} as unknown as Record<string, new (def: Def) => z.ZodType>;

const twins = new WeakMap<z.core.$ZodType, z.ZodType>();

/**
 * The classic-API twin of a schema built with `zod/mini`: the same definition, checks and
 * registered metadata, so it validates alike. The OpenAPI generator reads schemas through the
 * classic API (`.meta()`, `.minLength`, `.format`), while the request schemas are built with
 * `zod/mini` to keep the classic module out of the cold starts of the routes that validate with
 * them; only the document's function pays for both.
 */
export function classic<S extends z.core.$ZodType>(schema: S): z.ZodType<z.output<S>, z.input<S>> {
  if (schema instanceof z.ZodType) return schema as z.ZodType<z.output<S>, z.input<S>>;
  let twin = twins.get(schema);
  if (!twin) {
    twin = buildTwin(schema);
    twins.set(schema, twin);
  }
  return twin as z.ZodType<z.output<S>, z.input<S>>;
}

function buildTwin(schema: z.core.$ZodType): z.ZodType {
  const Classic = CLASSIC[schema._zod.constr.name];
  if (!Classic) throw new Error(`no classic twin is listed for ${schema._zod.constr.name}`);
  const twin = new Classic(twinDef(schema._zod.def as unknown as Def));
  // A copy (made by `.meta()` or a check) keeps its original as parent; the generator names a
  // component after the `id` of a copy only.
  const { parent } = schema._zod;
  if (parent) twin._zod.parent = classic(parent);
  const meta = z.globalRegistry.get(schema);
  if (meta) z.globalRegistry.add(twin, meta);
  return twin;
}

/** The definition with every schema it holds made classic; checks are shared by both APIs. */
function twinDef(def: Def): Def {
  const out: Def = { ...def };
  for (const key of INNER) if (def[key]) out[key] = classic(def[key] as z.core.$ZodType);
  if (def.type === 'object') {
    const shape = def.shape as Record<string, z.core.$ZodType>;
    out.shape = Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, classic(v)]));
  }
  if (Array.isArray(def.options)) out.options = (def.options as z.core.$ZodType[]).map(classic);
  if (typeof def.getter === 'function') {
    const getter = def.getter as () => z.core.$ZodType;
    out.getter = () => classic(getter());
  }
  return out;
}
