import type { z } from 'zod';
import { BUILTIN_AGENTS, BUILTIN_PROFILES } from './builtins.js';
import { isPlainObject } from './deep-merge.js';
import { configSchema, defaultConfig } from './schema.js';
import { descriptionOf, objectShape, recordValue } from './schema-walk.js';

/**
 * The `.orchestra/orchestra.json` that `orchestra init` writes, made from the schema so it cannot
 * drift from it: the keys most people set are live, every other key is shown commented out with
 * its default (or, for keys without one, an example) and its description.
 */

type Schema = z.core.$ZodType;

/** The keys a new repository usually sets, written live in this order. */
const LIVE_KEYS = ['baseBranch', 'setup', 'check', 'maxParallel', 'sandbox', 'defaultAgent'] as const;

/**
 * Example values for keys that have no default, so the commented-out line shows a real setting.
 * Uncommenting them yields these values; everything else uncomments to its default.
 */
export const TEMPLATE_EXAMPLES = {
  sessionName: 'my-project',
  worker: { homeTmpfsMb: 512, tmpTmpfsMb: 1024 },
  keys: { prefix: 'C-b' },
  notify: ['notify-send', '--', '{task}', '{summary}'],
  budget: { perTaskUsd: 10, perSessionUsd: 50 },
  autonomy: { goal: 'Keep the test suite green', maxTasksPerDay: 5, budgetUsdPerDay: 20 },
} as const;

/**
 * Values written as the user would type them: built-in agents and profiles in their short form
 * rather than with every default expanded.
 */
const SHOWN_DEFAULTS: Record<string, unknown> = { agents: BUILTIN_AGENTS, profiles: BUILTIN_PROFILES };

/** Single-line JSON with a space after `:` and `,`, as people write small objects. */
function inline(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(inline).join(', ')}]`;
  if (isPlainObject(value)) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return '{}';
    return `{ ${entries.map(([k, v]) => `${JSON.stringify(k)}: ${inline(v)}`).join(', ')} }`;
  }
  return JSON.stringify(value);
}

/** Packs `"key": value` pairs onto lines of at most `width` characters. */
function packEntries(entries: string[], width: number): string[] {
  const lines: string[] = [];
  let current = '';
  for (const entry of entries) {
    const next = current === '' ? `${entry},` : `${current} ${entry},`;
    if (current !== '' && next.length > width) {
      lines.push(current);
      current = `${entry},`;
    } else {
      current = next;
    }
  }
  if (current !== '') lines.push(current);
  return lines;
}

/**
 * The lines of one top-level key (without comment markers or indentation): its value, expanded
 * one field a line for objects and records, with a trailing comma.
 */
function keyLines(key: string, field: Schema, value: unknown, examples: Record<string, unknown>): string[] {
  const head = JSON.stringify(key);
  const shape = objectShape(field);
  if (shape !== undefined && isPlainObject(value)) {
    const lines = [`${head}: {`];
    for (const [name, sub] of Object.entries(shape)) {
      const subValue = value[name];
      if (subValue === undefined) continue;
      if (isPlainObject(subValue) && recordValue(sub) !== undefined) {
        // A record inside an object (keys.bindings): several short entries a line.
        lines.push(`  ${JSON.stringify(name)}: {`);
        const entries = Object.entries(subValue).map(([k, v]) => `${JSON.stringify(k)}: ${inline(v)}`);
        for (const packed of packEntries(entries, 90)) lines.push(`    ${packed}`);
        lines.push('  },');
        continue;
      }
      const doc = `${Object.hasOwn(examples, name) ? '(example) ' : ''}${descriptionOf(sub) ?? ''}`;
      lines.push(`  ${JSON.stringify(name)}: ${inline(subValue)}, // ${doc}`);
    }
    lines.push('},');
    return lines;
  }
  if (recordValue(field) !== undefined && isPlainObject(value)) {
    const lines = [`${head}: {`];
    for (const [name, entry] of Object.entries(value))
      lines.push(`  ${JSON.stringify(name)}: ${inline(entry)},`);
    lines.push('},');
    return lines;
  }
  return [`${head}: ${inline(value)},`];
}

/** Comment lines documenting the fields of a record's entries (agents, profiles). */
function entryDocs(field: Schema): string[] {
  const entry = recordValue(field);
  const shape = entry === undefined ? undefined : objectShape(entry);
  if (shape === undefined) return [];
  return Object.entries(shape).map(([name, sub]) => `   ${name}: ${descriptionOf(sub) ?? ''}`);
}

/**
 * The JSONC text of a new `.orchestra/orchestra.json`. It validates as is and equals the defaults
 * (with `baseBranch`); removing the `// ` before the commented-out settings also validates.
 *
 * @param opts.baseBranch the repository's main branch, written live
 */
export function configTemplate(opts: { baseBranch: string }): string {
  const defaults: Record<string, unknown> = {
    ...defaultConfig(),
    ...SHOWN_DEFAULTS,
    baseBranch: opts.baseBranch,
  };
  const examples: Record<string, unknown> = TEMPLATE_EXAMPLES;
  const shape = configSchema.shape as Record<string, Schema>;
  const out = [
    '// orchestra configuration: JSON with comments (trailing commas are fine).',
    '// Keys left out take their defaults. Defaults for all your repositories can live in',
    '// ~/.config/orchestra/config.json ($XDG_CONFIG_HOME/orchestra/config.json); this file wins over it.',
    '// Check edits with `orchestra config validate`; `orchestra config show` prints the effective config.',
    '{',
  ];
  const section = (key: string, live: boolean) => {
    const field = shape[key]!;
    const base = defaults[key];
    const example = examples[key];
    const value = isPlainObject(base) && isPlainObject(example) ? { ...base, ...example } : (base ?? example);
    if (value === undefined) return;
    const exampleOnly = base === undefined ? ' Example:' : '';
    out.push(`  // ${descriptionOf(field) ?? key}${exampleOnly}`);
    if (entryDocs(field).length > 0)
      out.push('  // Each entry:', ...entryDocs(field).map((doc) => `  //${doc}`));
    const subExamples = isPlainObject(example) ? example : {};
    for (const line of keyLines(key, field, value, subExamples))
      out.push(live ? `  ${line}` : `  // ${line}`);
  };
  for (const key of LIVE_KEYS) section(key, true);
  out.push(
    '',
    '  // The other settings, shown with their defaults: remove the // in front to change one.',
    '',
  );
  for (const key of Object.keys(shape)) {
    if (!(LIVE_KEYS as readonly string[]).includes(key)) section(key, false);
  }
  out.push('}', '');
  return out.join('\n');
}
