import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { keyNameToBytes, keyTokenName, normalizeKeyName } from '../../src/keys/key-names.js';
import { computeLayout, resizeLayout, splitByWeights } from '../../src/layout/layout.js';
import { Window } from '../../src/server/window.js';

const widths = (rects: Array<{ w: number }>) => rects.map((r) => r.w);
const heights = (rects: Array<{ h: number }>) => rects.map((r) => r.h);

describe('resize-pane: borders a person moves, kept as weights', () => {
  test('weights split a total exactly, each cell at least 1', () => {
    assert.deepEqual(splitByWeights(100, [1, 1]), [50, 50]);
    assert.deepEqual(splitByWeights(101, [60, 40]), [61, 40]);
    assert.equal(
      splitByWeights(7, [1, 1000, 1]).reduce((a, b) => a + b, 0),
      7,
    );
    assert.ok(splitByWeights(7, [1, 1000, 1]).every((n) => n >= 1));
  });

  test('side by side: -R moves the right border right, -L left; the last pane moves its left border', () => {
    let sizes = resizeLayout('even-horizontal', 2, 101, 30, {}, 0, 'R', 10);
    assert.deepEqual(widths(computeLayout('even-horizontal', 2, 101, 30, false, null, sizes)), [60, 40]);
    sizes = resizeLayout('even-horizontal', 2, 101, 30, sizes, 1, 'L', 5);
    assert.deepEqual(widths(computeLayout('even-horizontal', 2, 101, 30, false, null, sizes)), [55, 45]);
    // Kept at two cells at least.
    sizes = resizeLayout('even-horizontal', 2, 101, 30, sizes, 0, 'L', 500);
    assert.deepEqual(widths(computeLayout('even-horizontal', 2, 101, 30, false, null, sizes)), [2, 98]);
    // Up and down have no border to move here.
    assert.equal(resizeLayout('even-horizontal', 2, 101, 30, sizes, 0, 'U', 3), sizes);
  });

  test('a terminal too small to move a border: nothing moves, and nothing is said to', () => {
    const sizes = resizeLayout('even-vertical', 4, 80, 4, {}, 0, 'U', 1);
    assert.deepEqual(heights(computeLayout('even-vertical', 4, 80, 4, false, null, sizes)), [1, 1, 1, 1]);
    const pane = (id: number) => ({ id, name: `p${id}`, resize: () => {} });
    const window = new Window();
    window.selectLayout('main-vertical');
    window.add(pane(1));
    window.add(pane(2));
    window.setSize(10, 6);
    window.resizePane(0, 'R', 50);
    assert.equal(window.resizePane(0, 'R', 50), false, 'at its limit already');
  });

  test('what was set scales with the terminal', () => {
    const sizes = resizeLayout('even-horizontal', 2, 101, 30, {}, 0, 'R', 10);
    assert.deepEqual(widths(computeLayout('even-horizontal', 2, 201, 30, false, null, sizes)), [120, 80]);
  });

  test('stacked, main-vertical and tiled', () => {
    const stacked = resizeLayout('even-vertical', 3, 80, 30, {}, 1, 'D', 4);
    assert.deepEqual(heights(computeLayout('even-vertical', 3, 80, 30, false, null, stacked)), [10, 14, 6]);
    const main = resizeLayout('main-vertical', 3, 200, 40, {}, 0, 'R', 20);
    assert.equal(computeLayout('main-vertical', 3, 200, 40, false, null, main)[0]!.w, 100);
    const side = resizeLayout('main-vertical', 3, 200, 40, main, 1, 'D', 5);
    assert.deepEqual(
      heights(computeLayout('main-vertical', 3, 200, 40, false, null, side).slice(1)),
      [25, 15],
    );
    const tiled = resizeLayout('tiled', 4, 81, 40, {}, 0, 'R', 10);
    const rects = computeLayout('tiled', 4, 81, 40, false, null, tiled);
    assert.deepEqual(widths(rects), [50, 30, 50, 30], 'a column border moves for both rows');
    const lone = resizeLayout('tiled', 1, 80, 24, {}, 0, 'R', 5);
    assert.deepEqual(lone, {});
  });

  test('the window starts even again with a new layout or another pane; swap moves a pane, not the focus', () => {
    const pane = (id: number) => ({ id, name: `p${id}`, resize: () => {} });
    const window = new Window();
    window.selectLayout('even-horizontal');
    window.add(pane(1));
    window.add(pane(2));
    window.setSize(101, 31);
    assert.equal(window.resizePane(0, 'R', 10), true);
    assert.deepEqual(widths(window.paneRects()), [60, 40]);
    window.add(pane(3));
    assert.deepEqual(window.sizes, {});
    assert.equal(window.resizePane(2, 'L', 3), true);
    window.selectLayout('tiled');
    assert.deepEqual(window.sizes, {});
    assert.equal(window.swapPane(0, 1), 1);
    assert.deepEqual(
      window.panes.map((p) => p.id),
      [2, 1, 3],
    );
    assert.equal(window.swapPane(0, -1), 2, 'round the ends');
    assert.deepEqual(
      window.panes.map((p) => p.id),
      [3, 1, 2],
    );
    assert.equal(window.focus, 3);
  });

  test("C-arrows are xterm's modified cursor keys, both ways", () => {
    assert.equal(keyNameToBytes('C-Left'), '\x1b[1;5D');
    assert.equal(keyNameToBytes('M-Up'), '\x1b[1;3A');
    assert.equal(keyNameToBytes('C-S-End'), '\x1b[1;6F');
    assert.equal(keyTokenName('\x1b[1;5C'), 'C-Right');
    assert.equal(keyTokenName('\x1b[1;7B'), 'C-M-Down');
    assert.equal(normalizeKeyName('c-left'), 'C-Left');
  });
});
