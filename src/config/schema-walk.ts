import type { z } from 'zod';

/**
 * Reading the config schema's structure, for key suggestions, the template and the docs. Relies on
 * zod v4's `_zod.def`, which names each schema's kind and holds its parts.
 */

type Schema = z.core.$ZodType;
type Def = Record<string, unknown> & { type: string };

/** Wrappers that add a default, optionality and the like around the schema that holds the shape. */
const WRAPPERS = new Set(['default', 'prefault', 'optional', 'nullable', 'readonly', 'catch', 'nonoptional']);

function defOf(schema: Schema): Def {
  return schema._zod.def as unknown as Def;
}

/** Steps through wrappers and preprocess pipes to the schema that validates the value itself. */
export function unwrapSchema(schema: Schema): Schema {
  let current = schema;
  for (;;) {
    const def = defOf(current);
    if (WRAPPERS.has(def.type)) current = def.innerType as Schema;
    // For a preprocess pipe the output side is the schema that validates.
    else if (def.type === 'pipe') current = def.out as Schema;
    else return current;
  }
}

/** The fields of a fixed-shape object schema (after unwrapping), or undefined for anything else. */
export function objectShape(schema: Schema): Readonly<Record<string, Schema>> | undefined {
  const def = defOf(unwrapSchema(schema));
  return def.type === 'object' ? (def.shape as Record<string, Schema>) : undefined;
}

/** The value schema of a record schema (after unwrapping), or undefined for anything else. */
export function recordValue(schema: Schema): Schema | undefined {
  const def = defOf(unwrapSchema(schema));
  return def.type === 'record' ? (def.valueType as Schema) : undefined;
}

/** The schema that validates the value at `path` (record keys and array indices step inside). */
export function schemaAt(schema: Schema, path: readonly PropertyKey[]): Schema | undefined {
  let current: Schema | undefined = schema;
  for (const segment of path) {
    if (current === undefined) return undefined;
    const def = defOf(unwrapSchema(current));
    if (def.type === 'object') {
      const shape = def.shape as Record<string, Schema>;
      current = typeof segment === 'string' && Object.hasOwn(shape, segment) ? shape[segment] : undefined;
    } else if (def.type === 'record') current = def.valueType as Schema;
    else if (def.type === 'array') current = def.element as Schema;
    else return undefined;
  }
  return current;
}

/** The keys the object at `path` allows, or [] when that is not a fixed-shape object. */
export function knownKeysAt(schema: Schema, path: readonly PropertyKey[]): string[] {
  const at = schemaAt(schema, path);
  const shape = at === undefined ? undefined : objectShape(at);
  return shape === undefined ? [] : Object.keys(shape);
}

/** The `.describe()` text of a field, looking through wrappers in case it was set on an inner one. */
export function descriptionOf(schema: Schema): string | undefined {
  let current = schema;
  for (;;) {
    const text = (current as { description?: string }).description;
    if (text !== undefined) return text;
    const def = defOf(current);
    if (WRAPPERS.has(def.type)) current = def.innerType as Schema;
    else if (def.type === 'pipe') current = def.out as Schema;
    else return undefined;
  }
}
