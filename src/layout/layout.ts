import type { LayoutKind } from '../protocol/messages.js';

/**
 * Layout math, shared by the server (to size each pane's terminal) and clients (to draw it).
 * Pure: no terminal, no I/O.
 *
 * A pane's rectangle includes its one-row title bar; its terminal gets the rest. Side-by-side panes
 * are separated by a one-column border, as in tmux; stacked panes are separated by their title bars.
 */

/** The layouts `prefix space` cycles through, in order (tmux's names). */
export const LAYOUT_KINDS: readonly LayoutKind[] = [
  'tiled',
  'even-horizontal',
  'even-vertical',
  'main-vertical',
];

/** Rows taken by a pane's title bar. */
export const TITLE_ROWS = 1;

/** A rectangle in character cells; x, y from the window's top-left corner. */
export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** The layout after `kind` when cycling with `prefix space`. */
export function nextLayout(kind: LayoutKind): LayoutKind {
  return LAYOUT_KINDS[(LAYOUT_KINDS.indexOf(kind) + 1) % LAYOUT_KINDS.length]!;
}

/** Splits `total` cells into `parts` sizes that differ by at most one, larger ones first. */
export function splitEvenly(total: number, parts: number): number[] {
  const base = Math.floor(total / parts);
  const extra = total - base * parts;
  return Array.from({ length: parts }, (_, i) => Math.max(0, base + (i < extra ? 1 : 0)));
}

/** Lays `count` cells-wide items in a row with one-cell gaps: returns [offset, size] pairs. */
function row(start: number, total: number, count: number, gap: number): Array<[number, number]> {
  const sizes = splitEvenly(Math.max(count, total - gap * (count - 1)), count);
  const out: Array<[number, number]> = [];
  let at = start;
  for (const size of sizes) {
    out.push([at, Math.max(1, size)]);
    at += size + gap;
  }
  return out;
}

/**
 * Computes pane rectangles for `count` panes in a `width` × `height` area.
 *
 * @param zoomed with a focus index, the focused pane takes the whole area and the others get
 *   zero-sized rectangles (their terminals keep their last size, as in tmux)
 * @returns one rectangle per pane, in pane order
 */
export function computeLayout(
  kind: LayoutKind,
  count: number,
  width: number,
  height: number,
  zoomed = false,
  focus: number | null = null,
): Rect[] {
  if (count <= 0) return [];
  if (zoomed && focus !== null && focus >= 0 && focus < count) {
    return Array.from({ length: count }, (_, i) =>
      i === focus ? { x: 0, y: 0, w: width, h: height } : { x: 0, y: 0, w: 0, h: 0 },
    );
  }
  switch (kind) {
    case 'even-horizontal':
      return row(0, width, count, 1).map(([x, w]) => ({ x, y: 0, w, h: height }));
    case 'even-vertical':
      return row(0, height, count, 0).map(([y, h]) => ({ x: 0, y, w: width, h }));
    case 'main-vertical': {
      if (count === 1) return [{ x: 0, y: 0, w: width, h: height }];
      // tmux's main-pane-width defaults to 80 columns; on narrow screens half the width.
      const mainWidth = Math.max(1, Math.min(80, Math.floor((width - 1) / 2)) || 1);
      const sideX = mainWidth + 1;
      const side = row(0, height, count - 1, 0).map(([y, h]) => ({
        x: sideX,
        y,
        w: Math.max(1, width - sideX),
        h,
      }));
      return [{ x: 0, y: 0, w: mainWidth, h: height }, ...side];
    }
    default: {
      const cols = Math.ceil(Math.sqrt(count));
      const rows = Math.ceil(count / cols);
      const rects: Rect[] = [];
      const bands = row(0, height, rows, 0);
      bands.forEach(([y, h], r) => {
        const inRow = Math.min(cols, count - r * cols);
        for (const [x, w] of row(0, width, inRow, 1)) rects.push({ x, y, w, h });
      });
      return rects;
    }
  }
}

/** The terminal size of a pane drawn in `rect`: the rectangle less its title bar, at least 1×1. */
export function paneTerminalSize(rect: Rect): { cols: number; rows: number } {
  return { cols: Math.max(1, rect.w), rows: Math.max(1, rect.h - TITLE_ROWS) };
}

/**
 * The pane whose rectangle lies nearest in `direction` from pane `from` (for prefix + arrows),
 * preferring overlap on the other axis, as tmux does; `from` itself when there is none.
 */
export function paneInDirection(
  rects: Rect[],
  from: number,
  direction: 'left' | 'right' | 'up' | 'down',
): number {
  const a = rects[from];
  if (!a) return from;
  let best = from;
  let bestScore = Number.POSITIVE_INFINITY;
  rects.forEach((b, i) => {
    if (i === from || b.w === 0 || b.h === 0) return;
    let distance: number;
    let overlap: number;
    if (direction === 'left' || direction === 'right') {
      distance = direction === 'left' ? a.x - (b.x + b.w) : b.x - (a.x + a.w);
      overlap = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
    } else {
      distance = direction === 'up' ? a.y - (b.y + b.h) : b.y - (a.y + a.h);
      overlap = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
    }
    if (distance < 0) return;
    // Any overlap beats none; then the nearest; then the one most in line.
    const score = (overlap > 0 ? 0 : 1_000_000) + distance * 1000 - Math.max(0, overlap);
    if (score < bestScore) {
      bestScore = score;
      best = i;
    }
  });
  return best;
}

/** The pane under the cell (x, y), or undefined. */
export function paneAt(rects: Rect[], x: number, y: number): number | undefined {
  const i = rects.findIndex((r) => x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h);
  return i < 0 ? undefined : i;
}
