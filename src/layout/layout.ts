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

/**
 * Sizes a person set with resize-pane, kept as weights so they survive a terminal of another size
 * (tmux keeps a layout's cells the same way, scaled). `cols` are the widths of side-by-side cells
 * (even-horizontal's panes, tiled's columns), `rows` the heights of stacked ones (even-vertical's
 * panes, tiled's rows, main-vertical's side panes), `main` main-vertical's main pane width in
 * cells. An array whose length does not fit the layout is ignored (the even split is used).
 */
export interface LayoutSizes {
  main?: number;
  cols?: number[];
  rows?: number[];
}

/** Splits `total` cells into `weights.length` sizes in proportion to the weights, each at least 1. */
export function splitByWeights(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + Math.max(1, b), 0);
  const sizes = weights.map((w) => Math.max(1, Math.floor((total * Math.max(1, w)) / sum)));
  // What rounding left over goes to the largest cells first, so the total is exact.
  let left = total - sizes.reduce((a, b) => a + b, 0);
  const order = sizes.map((_, i) => i).sort((a, b) => weights[b]! - weights[a]! || a - b);
  for (let k = 0; left > 0; k = (k + 1) % sizes.length, left--) sizes[order[k]!]! += 1;
  for (let k = 0; left < 0 && k < sizes.length * total; k++) {
    const i = order[order.length - 1 - (k % sizes.length)]!;
    if (sizes[i]! > 1) {
      sizes[i]! -= 1;
      left++;
    }
  }
  return sizes;
}

/** Lays `count` cells-wide items in a row with one-cell gaps: returns [offset, size] pairs. */
function row(
  start: number,
  total: number,
  count: number,
  gap: number,
  weights?: readonly number[],
): Array<[number, number]> {
  const room = Math.max(count, total - gap * (count - 1));
  const sizes =
    weights && weights.length === count ? splitByWeights(room, weights) : splitEvenly(room, count);
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
 * @param sizes what resize-pane set ({@link LayoutSizes}); default the even split
 * @returns one rectangle per pane, in pane order
 */
export function computeLayout(
  kind: LayoutKind,
  count: number,
  width: number,
  height: number,
  zoomed = false,
  focus: number | null = null,
  sizes: LayoutSizes = {},
): Rect[] {
  if (count <= 0) return [];
  if (zoomed && focus !== null && focus >= 0 && focus < count) {
    return Array.from({ length: count }, (_, i) =>
      i === focus ? { x: 0, y: 0, w: width, h: height } : { x: 0, y: 0, w: 0, h: 0 },
    );
  }
  switch (kind) {
    case 'even-horizontal':
      return row(0, width, count, 1, sizes.cols).map(([x, w]) => ({ x, y: 0, w, h: height }));
    case 'even-vertical':
      return row(0, height, count, 0, sizes.rows).map(([y, h]) => ({ x: 0, y, w: width, h }));
    case 'main-vertical': {
      if (count === 1) return [{ x: 0, y: 0, w: width, h: height }];
      const mainWidth = mainPaneWidth(width, sizes.main);
      const sideX = mainWidth + 1;
      const side = row(0, height, count - 1, 0, sizes.rows).map(([y, h]) => ({
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
      const bands = row(0, height, rows, 0, sizes.rows);
      bands.forEach(([y, h], r) => {
        const inRow = Math.min(cols, count - r * cols);
        // Column widths apply to full rows; a last, shorter row is split evenly.
        for (const [x, w] of row(0, width, inRow, 1, inRow === cols ? sizes.cols : undefined))
          rects.push({ x, y, w, h });
      });
      return rects;
    }
  }
}

/**
 * main-vertical's main pane width: the one a person set (kept at least 1 column and leaving the
 * side panes at least 1), else tmux's main-pane-width default of 80 columns, half the width on
 * narrow screens.
 */
function mainPaneWidth(width: number, set: number | undefined): number {
  if (set !== undefined) return Math.max(1, Math.min(set, width - 2));
  return Math.max(1, Math.min(80, Math.floor((width - 1) / 2)) || 1);
}

/** The directions of resize-pane: the border to move (tmux's -L, -R, -U, -D). */
export type ResizeDirection = 'L' | 'R' | 'U' | 'D';

/**
 * The sizes after pane `index` is resized by `cells` in `direction`, as tmux's resize-pane does:
 * the border on that side of the pane moves that way (its right border for -R, or its left one
 * when it has none on the right), and the cells either side keep at least 2. Weights become the
 * cells they are now, so a later terminal resize scales what the person set.
 *
 * @returns the new sizes; the same ones when nothing can move (a lone pane, a border at the edge)
 */
export function resizeLayout(
  kind: LayoutKind,
  count: number,
  width: number,
  height: number,
  sizes: LayoutSizes,
  index: number,
  direction: ResizeDirection,
  cells: number,
): LayoutSizes {
  const horizontal = direction === 'L' || direction === 'R';
  const delta = direction === 'R' || direction === 'D' ? cells : -cells;
  if (count <= 1 || index < 0 || index >= count) return sizes;
  if (kind === 'main-vertical') {
    if (horizontal) {
      const main = mainPaneWidth(width, sizes.main);
      return { ...sizes, main: Math.max(2, Math.min(width - 3, main + delta)) };
    }
    if (index === 0) return sizes;
    return { ...sizes, rows: moveBorder(row(0, height, count - 1, 0, sizes.rows), index - 1, delta) };
  }
  if (kind === 'even-horizontal') {
    if (!horizontal) return sizes;
    return { ...sizes, cols: moveBorder(row(0, width, count, 1, sizes.cols), index, delta) };
  }
  if (kind === 'even-vertical') {
    if (horizontal) return sizes;
    return { ...sizes, rows: moveBorder(row(0, height, count, 0, sizes.rows), index, delta) };
  }
  const cols = Math.ceil(Math.sqrt(count));
  const rows = Math.ceil(count / cols);
  if (horizontal) {
    if (cols < 2) return sizes;
    return { ...sizes, cols: moveBorder(row(0, width, cols, 1, sizes.cols), index % cols, delta) };
  }
  if (rows < 2) return sizes;
  return { ...sizes, rows: moveBorder(row(0, height, rows, 0, sizes.rows), Math.floor(index / cols), delta) };
}

/**
 * Cell sizes after the border after cell `at` (before it, for the last cell) moves by `delta`
 * cells; each side keeps at least 2.
 */
function moveBorder(laid: Array<[number, number]>, at: number, delta: number): number[] {
  const sizes = laid.map(([, size]) => size);
  const [a, b] = at < sizes.length - 1 ? [at, at + 1] : [at - 1, at];
  // Cells already under two (a tiny terminal) stay as they are: no move could keep both at 2.
  if (sizes[a]! < 2 || sizes[b]! < 2) return sizes;
  const move = Math.max(-(sizes[a]! - 2), Math.min(sizes[b]! - 2, delta));
  sizes[a]! += move;
  sizes[b]! -= move;
  return sizes;
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
