import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  computeLayout,
  LAYOUT_KINDS,
  nextLayout,
  paneAt,
  paneInDirection,
  paneTerminalSize,
  type Rect,
  splitEvenly,
} from '../../src/layout/layout.js';

/**
 * Checks the invariants every layout must keep in a `width` × `height` area: each rectangle lies
 * inside it and is at least 1×1, no two overlap, and every cell no pane covers is part of a
 * one-column border between two side-by-side panes (stacked panes are separated by their title
 * bars, so there are no horizontal gaps).
 */
function assertTiles(rects: Rect[], width: number, height: number, label: string): void {
  const owner: number[][] = Array.from({ length: height }, () => new Array<number>(width).fill(-1));
  rects.forEach((r, i) => {
    assert.ok(r.w >= 1 && r.h >= 1, `${label}: pane ${i} is empty: ${JSON.stringify(r)}`);
    assert.ok(
      r.x >= 0 && r.y >= 0 && r.x + r.w <= width && r.y + r.h <= height,
      `${label}: pane ${i} ${JSON.stringify(r)} leaves the ${width}x${height} area`,
    );
    for (let y = r.y; y < r.y + r.h; y++) {
      for (let x = r.x; x < r.x + r.w; x++) {
        const row = owner[y]!;
        assert.equal(row[x], -1, `${label}: panes ${row[x]} and ${i} overlap at ${x},${y}`);
        row[x] = i;
      }
    }
  });
  for (let y = 0; y < height; y++) {
    const row = owner[y]!;
    for (let x = 0; x < width; x++) {
      if (row[x] !== -1) continue;
      const left = row[x - 1] ?? -1;
      const right = row[x + 1] ?? -1;
      assert.ok(
        left !== -1 && right !== -1 && left !== right,
        `${label}: cell ${x},${y} is neither in a pane nor a one-column border`,
      );
    }
  }
}

const AREAS: Array<[number, number]> = [
  [200, 50],
  [80, 23],
  [37, 17],
];

describe('computeLayout', () => {
  for (const kind of LAYOUT_KINDS) {
    test(`${kind}: 1..9 panes tile the area with one-column borders`, () => {
      for (const [width, height] of AREAS) {
        for (let count = 1; count <= 9; count++) {
          const rects = computeLayout(kind, count, width, height);
          assert.equal(rects.length, count);
          assertTiles(rects, width, height, `${kind} ${count} panes in ${width}x${height}`);
        }
      }
    });
  }

  test('one pane takes the whole area in every kind', () => {
    for (const kind of LAYOUT_KINDS) {
      assert.deepEqual(computeLayout(kind, 1, 91, 33), [{ x: 0, y: 0, w: 91, h: 33 }], kind);
    }
  });

  test('even-horizontal puts panes side by side, even-vertical stacks them', () => {
    const side = computeLayout('even-horizontal', 3, 100, 30);
    assert.ok(side.every((r) => r.y === 0 && r.h === 30));
    assert.ok(side[0]!.x < side[1]!.x && side[1]!.x < side[2]!.x);
    assert.ok(Math.max(...side.map((r) => r.w)) - Math.min(...side.map((r) => r.w)) <= 1, 'even widths');
    const stacked = computeLayout('even-vertical', 3, 100, 30);
    assert.ok(stacked.every((r) => r.x === 0 && r.w === 100));
    assert.deepEqual(
      stacked.map((r) => r.h),
      [10, 10, 10],
    );
  });

  test('main-vertical: the main pane is on the left, at most 80 columns, the rest stacked beside it', () => {
    const wide = computeLayout('main-vertical', 4, 250, 60);
    assert.equal(wide[0]!.x, 0);
    assert.equal(wide[0]!.w, 80);
    assert.equal(wide[0]!.h, 60);
    for (const r of wide.slice(1)) assert.equal(r.x, 81);
    const narrow = computeLayout('main-vertical', 3, 61, 20);
    assert.equal(narrow[0]!.w, 30, 'half of the width less the border');
  });

  test('tiled: 4 panes make a 2x2 grid, 5 panes a 3+2 grid', () => {
    const four = computeLayout('tiled', 4, 101, 40);
    assert.deepEqual(
      four.map((r) => [r.x, r.y]),
      [
        [0, 0],
        [51, 0],
        [0, 20],
        [51, 20],
      ],
    );
    const five = computeLayout('tiled', 5, 101, 40);
    assert.equal(new Set(five.map((r) => r.y)).size, 2);
    assert.equal(five.filter((r) => r.y === 0).length, 3);
  });

  test('zoom gives the focused pane the whole area and hides the others', () => {
    for (const kind of LAYOUT_KINDS) {
      const rects = computeLayout(kind, 5, 120, 40, true, 3);
      assert.deepEqual(rects[3], { x: 0, y: 0, w: 120, h: 40 }, kind);
      rects.forEach((r, i) => {
        if (i !== 3) assert.equal(r.w * r.h, 0, `${kind}: pane ${i} hidden`);
      });
    }
    // Zoom without a valid focus falls back to the normal layout.
    assert.deepEqual(computeLayout('tiled', 3, 90, 30, true, null), computeLayout('tiled', 3, 90, 30));
    assert.deepEqual(computeLayout('tiled', 3, 90, 30, true, 7), computeLayout('tiled', 3, 90, 30));
  });

  test('no panes, no rectangles', () => {
    assert.deepEqual(computeLayout('tiled', 0, 80, 24), []);
  });
});

describe('layout helpers', () => {
  test('splitEvenly hands the remainder to the first parts', () => {
    assert.deepEqual(splitEvenly(10, 3), [4, 3, 3]);
    assert.equal(
      splitEvenly(97, 7).reduce((a, b) => a + b, 0),
      97,
    );
  });

  test('nextLayout cycles through every kind and back', () => {
    let kind = LAYOUT_KINDS[0]!;
    const seen = new Set<string>();
    for (let i = 0; i < LAYOUT_KINDS.length; i++) {
      seen.add(kind);
      kind = nextLayout(kind);
    }
    assert.equal(kind, LAYOUT_KINDS[0]);
    assert.equal(seen.size, LAYOUT_KINDS.length);
  });

  test('paneTerminalSize leaves out the title row and never goes below 1x1', () => {
    assert.deepEqual(paneTerminalSize({ x: 3, y: 4, w: 50, h: 20 }), { cols: 50, rows: 19 });
    assert.deepEqual(paneTerminalSize({ x: 0, y: 0, w: 0, h: 1 }), { cols: 1, rows: 1 });
  });
});

describe('paneInDirection and paneAt', () => {
  // 0 | 1
  // --+--
  // 2 | 3
  const grid = computeLayout('tiled', 4, 101, 40);

  test('moves to the neighbour in each direction and stays put at the edge', () => {
    assert.equal(paneInDirection(grid, 0, 'right'), 1);
    assert.equal(paneInDirection(grid, 0, 'down'), 2);
    assert.equal(paneInDirection(grid, 3, 'left'), 2);
    assert.equal(paneInDirection(grid, 3, 'up'), 1);
    assert.equal(paneInDirection(grid, 0, 'left'), 0);
    assert.equal(paneInDirection(grid, 0, 'up'), 0);
    assert.equal(paneInDirection(grid, 3, 'right'), 3);
    assert.equal(paneInDirection(grid, 3, 'down'), 3);
  });

  test('prefers a pane that overlaps on the other axis over a nearer diagonal one', () => {
    // main-vertical with three panes: 0 on the left, 1 above 2 on the right.
    const rects = computeLayout('main-vertical', 3, 161, 40);
    assert.equal(paneInDirection(rects, 2, 'left'), 0);
    assert.equal(paneInDirection(rects, 1, 'left'), 0);
    assert.equal(paneInDirection(rects, 1, 'down'), 2);
    assert.equal(paneInDirection(rects, 2, 'up'), 1);
    assert.ok([1, 2].includes(paneInDirection(rects, 0, 'right')));
    // tiled with five panes: 3 and 4 on the bottom row; up from 4 reaches the pane above it.
    const five = computeLayout('tiled', 5, 120, 40);
    const up = paneInDirection(five, 4, 'up');
    const [a, b] = [five[4]!, five[up]!];
    assert.ok(up < 3, 'a pane of the top row');
    assert.ok(Math.min(a.x + a.w, b.x + b.w) > Math.max(a.x, b.x), 'one that overlaps horizontally');
  });

  test('skips panes hidden by zoom and copes with a bad index', () => {
    const zoomed = computeLayout('tiled', 4, 101, 40, true, 0);
    assert.equal(paneInDirection(zoomed, 0, 'right'), 0);
    assert.equal(paneInDirection(grid, 9, 'right'), 9);
  });

  test('paneAt finds the pane under a cell, nothing on a border or outside', () => {
    grid.forEach((r, i) => {
      assert.equal(paneAt(grid, r.x, r.y), i);
      assert.equal(paneAt(grid, r.x + r.w - 1, r.y + r.h - 1), i);
    });
    const border = grid[0]!.x + grid[0]!.w;
    assert.equal(paneAt(grid, border, 5), undefined);
    assert.equal(paneAt(grid, 101, 0), undefined);
    assert.equal(paneAt(grid, 0, 40), undefined);
    assert.equal(paneAt(grid, -1, 0), undefined);
  });
});
