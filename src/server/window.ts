import {
  computeLayout,
  type LayoutSizes,
  nextLayout,
  paneTerminalSize,
  type Rect,
  type ResizeDirection,
  resizeLayout,
} from '../layout/layout.js';
import type { LayoutKind } from '../protocol/messages.js';
import { STATUS_ROWS } from '../protocol/status-bar.js';

/**
 * The session's one window: its panes in display order, the layout they are arranged in, which
 * one has the focus (and had it before), zoom, and the size the panes follow. Pure: it resizes the
 * panes it is given and owns no process, socket or client; the server tells clients what changed.
 */

/** Size used for panes before any client has attached, cells (tmux's default-size is 80x24). */
export const DEFAULT_SIZE = { cols: 80, rows: 24 };

/** What the window needs of a pane: who it is, and a terminal it can resize (cells). */
export interface WindowPane {
  readonly id: number;
  readonly name: string;
  resize(cols: number, rows: number): void;
}

/** The panes of a session and their layout (tmux's window, of which orchestra has one). */
export class Window<P extends WindowPane> {
  /** Panes in display order; index is the pane's place in the layout. */
  readonly panes: P[] = [];
  kind: LayoutKind = 'tiled';
  zoomed = false;
  /** Id of the focused pane; null when there is none. */
  focus: number | null = null;
  /** Id of the pane focused before the current one (tmux's `!`). */
  lastFocus: number | null = null;
  /** The window's size in cells, status bar included (the latest client's terminal). */
  size = { ...DEFAULT_SIZE };
  /**
   * What resize-pane set in the current layout (layout.ts `LayoutSizes`), kept across terminal
   * sizes; a new layout, or a pane added or gone, splits evenly again (main-vertical's main width
   * stays), as tmux re-spreads a layout.
   */
  sizes: LayoutSizes = {};

  /** Panes an attached client sees: all of them, or only the focused one while zoomed. */
  visiblePanes(): readonly P[] {
    if (!this.zoomed) return this.panes;
    return this.panes.filter((p) => p.id === this.focus);
  }

  /** Each pane's rectangle, in display order; a pane hidden by zoom gets a 0×0 one. */
  paneRects(): Rect[] {
    const focusIndex = this.focus === null ? null : this.panes.findIndex((p) => p.id === this.focus);
    return computeLayout(
      this.kind,
      this.panes.length,
      this.size.cols,
      Math.max(1, this.size.rows - STATUS_ROWS),
      this.zoomed,
      focusIndex,
      this.sizes,
    );
  }

  /** The terminal size a pane added now would get, cells (unzoomed, as adding a pane leaves it). */
  nextPaneSize(): { cols: number; rows: number } {
    const rects = computeLayout(
      this.kind,
      this.panes.length + 1,
      this.size.cols,
      Math.max(1, this.size.rows - STATUS_ROWS),
      false,
    );
    return paneTerminalSize(rects[rects.length - 1]!);
  }

  /** The pane with this id, if it is still there. */
  paneById(id: number): P | undefined {
    return this.panes.find((p) => p.id === id);
  }

  /** Adds `pane` last and focuses it; {@link fit} lays it out. */
  add(pane: P): void {
    this.panes.push(pane);
    this.spreadEvenly();
    this.setFocus(pane.id);
  }

  /** Drops what resize-pane set, but main-vertical's main pane width. */
  private spreadEvenly(): void {
    this.sizes = this.sizes.main !== undefined ? { main: this.sizes.main } : {};
  }

  /**
   * Moves a border of the pane at `index` by `cells` in `direction` (tmux's resize-pane -L/-R/-U/-D),
   * unzooming. Returns whether any size changed (a lone pane, or a border at the edge, has none to move).
   */
  resizePane(index: number, direction: ResizeDirection, cells: number): boolean {
    const next = resizeLayout(
      this.kind,
      this.panes.length,
      this.size.cols,
      Math.max(1, this.size.rows - STATUS_ROWS),
      this.sizes,
      index,
      direction,
      cells,
    );
    // Changed is what a person sees: the panes' rectangles, not the weights behind them.
    const unzoomed = (sizes: LayoutSizes) =>
      JSON.stringify(
        computeLayout(
          this.kind,
          this.panes.length,
          this.size.cols,
          Math.max(1, this.size.rows - STATUS_ROWS),
          false,
          null,
          sizes,
        ),
      );
    const before = unzoomed(this.sizes);
    const after = unzoomed(next);
    if (before === after) return false;
    this.sizes = next;
    this.zoomed = false;
    return true;
  }

  /**
   * Swaps the pane at `index` with the one before it (`-1`, tmux's swap-pane -U) or after it
   * (`1`, -D), round the ends; the focus stays with the pane. Returns the other pane's index.
   */
  swapPane(index: number, step: -1 | 1): number {
    const count = this.panes.length;
    if (count < 2 || index < 0 || index >= count) return index;
    const other = (index + step + count) % count;
    [this.panes[index], this.panes[other]] = [this.panes[other]!, this.panes[index]!];
    return other;
  }

  /**
   * Takes `pane` out of the window. The focus moves to the pane focused before it, else to the
   * one that took its place (or the new last one); one pane left cannot stay zoomed.
   *
   * @returns false when the pane was not in the window
   */
  remove(pane: P): boolean {
    const index = this.panes.indexOf(pane);
    if (index < 0) return false;
    this.panes.splice(index, 1);
    this.spreadEvenly();
    if (this.lastFocus === pane.id) this.lastFocus = null;
    if (this.focus === pane.id) {
      const next = this.panes[Math.min(index, this.panes.length - 1)];
      this.focus = this.lastFocus ?? next?.id ?? null;
      this.lastFocus = null;
    }
    if (this.panes.length <= 1) this.zoomed = false;
    return true;
  }

  /**
   * Finds a pane by target: its index (`0`), its id (`%3`), `!` for the last focused one (tmux's
   * notation), or its name; empty means the focused one. Undefined when none matches.
   */
  find(target: string | undefined): P | undefined {
    const t = (target ?? '').trim();
    let pane: P | undefined;
    if (t === '') pane = this.panes.find((p) => p.id === this.focus);
    else if (t === '!')
      pane = this.panes.find((p) => p.id === this.lastFocus); // tmux: the last pane
    else if (/^%\d+$/.test(t)) pane = this.panes.find((p) => p.id === Number(t.slice(1)));
    else if (/^\d+$/.test(t)) pane = this.panes[Number(t)];
    if (!pane && t !== '') pane = this.panes.find((p) => p.name === t);
    return pane;
  }

  /** Focuses pane `id`, remembering the one focused before (unless it is the same). */
  setFocus(id: number): void {
    if (this.focus === id) return;
    if (this.focus !== null) this.lastFocus = this.focus;
    this.focus = id;
  }

  /** Switches to `layout` (`next`: the one after the current), unzoomed; returns the new kind. */
  selectLayout(layout: LayoutKind | 'next'): LayoutKind {
    this.kind = layout === 'next' ? nextLayout(this.kind) : layout;
    this.zoomed = false;
    this.sizes = {};
    return this.kind;
  }

  /** Zooms the focused pane, or unzooms; a lone pane is never zoomed. Returns whether zoomed. */
  toggleZoom(): boolean {
    this.zoomed = this.panes.length > 1 ? !this.zoomed : false;
    return this.zoomed;
  }

  /** Sets the window's size, cells; returns false when it was that size already. */
  setSize(cols: number, rows: number): boolean {
    if (cols === this.size.cols && rows === this.size.rows) return false;
    this.size = { cols, rows };
    return true;
  }

  /** Resizes every visible pane to its place in the layout; a pane hidden by zoom keeps its size. */
  fit(): void {
    const rects = this.paneRects();
    this.panes.forEach((pane, i) => {
      const rect = rects[i];
      if (!rect || rect.w === 0 || rect.h === 0) return; // hidden by zoom: keeps its size, as in tmux
      const { cols, rows } = paneTerminalSize(rect);
      pane.resize(cols, rows);
    });
  }
}
