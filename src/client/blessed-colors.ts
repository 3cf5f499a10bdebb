import blessed from 'blessed';

/**
 * blessed's colour helpers (lib/colors.js). @types/blessed declares only `match(hex): string`,
 * but the library matches RGB triples and converts names too; this is the part orchestra uses.
 */
interface BlessedColors {
  /** Nearest 256-palette index for an RGB colour (or `#rrggbb`). */
  match(r: number | string, g?: number, b?: number): number;
  /** A colour name, `#rgb`/`#rrggbb` or number as a palette index; 0x1ff for "default". */
  convert(color: string | number): number;
}

export const blessedColors = blessed.colors as unknown as BlessedColors;
