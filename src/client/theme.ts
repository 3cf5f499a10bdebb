import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as z from 'zod';
import { OrchestraError } from '../common/errors.js';
import { packageRoot } from '../common/paths.js';
import { DEFAULT_COLOR, FLAG_BOLD, packAttr, rgbTo256 } from './cell-render.js';

const colorSchema = z.string().min(1);
const styleSchema = z.strictObject({
  fg: colorSchema.optional(),
  bg: colorSchema.optional(),
  bold: z.boolean().optional(),
});

/** A theme file in `themes/<name>.json`: colours by name (`green`), 256-index (`"42"`) or `#rrggbb`. */
export const themeSchema = z.strictObject({
  name: z.string(),
  description: z.string().optional(),
  status: styleSchema,
  statusPrefix: styleSchema,
  title: styleSchema,
  titleFocused: styleSchema,
  border: styleSchema,
  borderFocused: styleSchema,
  overlay: styleSchema,
  overlayBorder: styleSchema,
  message: styleSchema,
  stateWorking: colorSchema,
  stateWaiting: colorSchema,
  stateDone: colorSchema,
  stateError: colorSchema,
});
export type ThemeFile = z.infer<typeof themeSchema>;
type Style = z.infer<typeof styleSchema>;

/** A theme with colours resolved to packed attributes (cell-render.ts) and palette indices. */
export interface Theme {
  file: ThemeFile;
  status: number;
  statusPrefix: number;
  title: number;
  titleFocused: number;
  border: number;
  borderFocused: number;
  message: number;
  /** Palette index per agent state, for the state word in pane titles. */
  stateColor: Record<string, number>;
}

/**
 * Colour names a theme may use, as palette indices: the 8 ANSI colours, their bright variants
 * (`brightred` or `lightred`), and grey (the names the themes used under blessed).
 */
const COLOUR_NAMES: Readonly<Record<string, number>> = (() => {
  const base = ['black', 'red', 'green', 'yellow', 'blue', 'magenta', 'cyan', 'white'];
  const names: Record<string, number> = {
    grey: 8,
    gray: 8,
    lightgrey: 7,
    lightgray: 7,
    brightgrey: 7,
    brightgray: 7,
  };
  base.forEach((name, i) => {
    names[name] = i;
    names[`light${name}`] = i + 8;
    names[`bright${name}`] = i + 8;
  });
  return names;
})();

/**
 * A colour as a 256-palette index: `default`, a name (`green`, `bright-blue`), an index (`"42"`)
 * or `#rrggbb` (mapped to the closest of the cube and grey ramp); anything else is the default.
 */
export function colorIndex(color: string | undefined): number {
  if (color === undefined || color === 'default') return DEFAULT_COLOR;
  if (/^\d+$/.test(color)) return Math.min(255, Number(color));
  if (/^#[0-9a-fA-F]{6}$/.test(color)) return rgbTo256(Number.parseInt(color.slice(1), 16));
  if (/^#[0-9a-fA-F]{3}$/.test(color)) {
    const [r, g, b] = [...color.slice(1)].map((c) => Number.parseInt(c + c, 16));
    return rgbTo256((r! << 16) | (g! << 8) | b!);
  }
  return COLOUR_NAMES[color.replace(/[- ]/g, '').toLowerCase()] ?? DEFAULT_COLOR;
}

function attr(style: Style): number {
  return packAttr(style.bold ? FLAG_BOLD : 0, colorIndex(style.fg), colorIndex(style.bg));
}

/** The folder of the themes shipped with orchestra. */
export const THEMES_DIR = pathToFileURL(join(packageRoot(), 'themes/'));

/**
 * Loads `themes/<name>.json`.
 * @throws OrchestraError CONFIG_INVALID when the theme is missing or malformed
 */
export async function loadTheme(name: string): Promise<Theme> {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) {
    throw new OrchestraError('CONFIG_INVALID', `theme "${name}" is not a valid theme name`, {
      hint: 'use the name of a file in themes/, e.g. "default" or "light"',
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(new URL(`${name}.json`, THEMES_DIR), 'utf8'));
  } catch (error) {
    throw new OrchestraError('CONFIG_INVALID', `theme "${name}" cannot be read`, {
      hint: 'set "theme" in .orchestra/orchestra.json to "default" or "light"',
      cause: error,
    });
  }
  const parsed = themeSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new OrchestraError(
      'CONFIG_INVALID',
      `theme "${name}": ${issue?.path.join('.')}: ${issue?.message}`,
      {
        hint: 'compare it with themes/default.json',
      },
    );
  }
  const file = parsed.data;
  return {
    file,
    status: attr(file.status),
    statusPrefix: attr(file.statusPrefix),
    title: attr(file.title),
    titleFocused: attr(file.titleFocused),
    border: attr(file.border),
    borderFocused: attr(file.borderFocused),
    message: attr(file.message),
    stateColor: {
      working: colorIndex(file.stateWorking),
      waiting: colorIndex(file.stateWaiting),
      done: colorIndex(file.stateDone),
      error: colorIndex(file.stateError),
    },
  };
}
