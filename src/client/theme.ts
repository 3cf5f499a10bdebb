import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { OrchestraError } from '../common/errors.js';
import { packageRoot } from '../common/paths.js';
import { DEFAULT_COLOR, FLAG_BOLD, packAttr, rgbTo256 } from './cell-render.js';

/** One style of a theme: colours and boldness. */
interface Style {
  fg?: string;
  bg?: string;
  bold?: boolean;
}

/** The styles a theme file sets, and its state colours (each a colour string). */
const STYLE_KEYS = [
  'status',
  'statusPrefix',
  'title',
  'titleFocused',
  'border',
  'borderFocused',
  'overlay',
  'overlayBorder',
  'message',
] as const;
const STATE_KEYS = ['stateWorking', 'stateWaiting', 'stateDone', 'stateError'] as const;

/** A theme file in `themes/<name>.json`: colours by name (`green`), 256-index (`"42"`) or `#rrggbb`. */
export type ThemeFile = { name: string; description?: string } & Record<(typeof STYLE_KEYS)[number], Style> &
  Record<(typeof STATE_KEYS)[number], string>;

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  return typeof value;
}

/**
 * Checks a parsed theme file: every style and state colour present, nothing unknown. Checked by
 * hand rather than with zod, which would cost the client more start-up time than the rest of it.
 * @returns the first problem as `<path>: <what is wrong>`, or undefined when the file is good
 */
export function themeProblem(raw: unknown): string | undefined {
  if (kindOf(raw) !== 'object') return `(root): expected object, received ${kindOf(raw)}`;
  const file = raw as Record<string, unknown>;
  const known = new Set<string>(['name', 'description', ...STYLE_KEYS, ...STATE_KEYS]);
  const unknown = Object.keys(file).find((key) => !known.has(key));
  if (unknown) return `${unknown}: not a theme setting`;
  if (typeof file.name !== 'string') return `name: expected string, received ${kindOf(file.name)}`;
  if (file.description !== undefined && typeof file.description !== 'string')
    return `description: expected string, received ${kindOf(file.description)}`;
  const colour = (value: unknown) => typeof value === 'string' && value.length > 0;
  for (const key of STYLE_KEYS) {
    const style = file[key];
    if (kindOf(style) !== 'object') return `${key}: expected object, received ${kindOf(style)}`;
    for (const [field, value] of Object.entries(style as Record<string, unknown>)) {
      if (field === 'bold') {
        if (typeof value !== 'boolean') return `${key}.bold: expected boolean, received ${kindOf(value)}`;
      } else if (field === 'fg' || field === 'bg') {
        if (!colour(value)) return `${key}.${field}: expected a colour name, index or #rrggbb`;
      } else return `${key}.${field}: not a style setting (fg, bg, bold)`;
    }
  }
  for (const key of STATE_KEYS) {
    if (!colour(file[key])) return `${key}: expected a colour name, index or #rrggbb`;
  }
  return undefined;
}

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
  const problem = themeProblem(raw);
  if (problem) {
    throw new OrchestraError('CONFIG_INVALID', `theme "${name}": ${problem}`, {
      hint: 'compare it with themes/default.json',
    });
  }
  const file = raw as ThemeFile;
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
