import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { computeLayout, paneTerminalSize } from '../../src/layout/layout.js';
import { STATUS_ROWS } from '../../src/protocol/status-bar.js';
import { DEFAULT_SIZE, Window, type WindowPane } from '../../src/server/window.js';

/** A pane that records the sizes it was given. */
interface FakePane extends WindowPane {
  sizes: Array<{ cols: number; rows: number }>;
}

function fakePane(id: number, name = `pane${id}`): FakePane {
  const sizes: FakePane['sizes'] = [];
  return { id, name, sizes, resize: (cols, rows) => sizes.push({ cols, rows }) };
}

/** A window holding panes with ids 1..n (named a, b, c...), the last one focused. */
function windowOf(n: number): { window: Window<FakePane>; panes: FakePane[] } {
  const window = new Window<FakePane>();
  const panes = Array.from({ length: n }, (_, i) => fakePane(i + 1, String.fromCharCode(97 + i)));
  for (const pane of panes) window.add(pane);
  return { window, panes };
}

describe('Window', () => {
  test('adding a pane focuses it and remembers the one focused before', () => {
    const { window } = windowOf(3);
    assert.equal(window.focus, 3);
    assert.equal(window.lastFocus, 2);
    window.setFocus(3);
    assert.equal(window.lastFocus, 2, 'focusing the focused pane again changes nothing');
  });

  test('find: empty, !, %id, index, name', () => {
    const { window, panes } = windowOf(3);
    assert.equal(window.find(undefined), panes[2]);
    assert.equal(window.find('  '), panes[2]);
    assert.equal(window.find('!'), panes[1]);
    assert.equal(window.find('%1'), panes[0]);
    assert.equal(window.find('0'), panes[0]);
    assert.equal(window.find('b'), panes[1]);
    assert.equal(window.find('%9'), undefined);
    assert.equal(window.find('7'), undefined);
    assert.equal(window.find('nope'), undefined);
  });

  test('a name that looks like an index is found by name when no pane has that index', () => {
    const window = new Window<FakePane>();
    const pane = fakePane(1, '42');
    window.add(pane);
    assert.equal(window.find('42'), pane);
  });

  test('removing the focused pane focuses the one focused before it', () => {
    const { window, panes } = windowOf(3);
    window.setFocus(1);
    window.setFocus(2);
    assert.equal(window.remove(panes[1]!), true);
    assert.equal(window.focus, 1);
    assert.equal(window.lastFocus, null);
    assert.equal(window.remove(panes[1]!), false, 'a pane already gone');
  });

  test('removing the focused pane with no previous focus moves to the one in its place', () => {
    const { window, panes } = windowOf(3);
    window.remove(panes[1]!); // pane 2 was the last focus
    assert.equal(window.lastFocus, null);
    window.setFocus(1);
    window.lastFocus = null;
    window.remove(panes[0]!);
    assert.equal(window.focus, 3, 'the pane that took index 0');
    window.remove(panes[2]!);
    assert.equal(window.focus, null);
  });

  test('zoom shows the focused pane only and ends when one pane is left', () => {
    const { window, panes } = windowOf(2);
    assert.equal(window.toggleZoom(), true);
    assert.deepEqual(window.visiblePanes(), [panes[1]]);
    window.remove(panes[0]!);
    assert.equal(window.zoomed, false);
    assert.equal(window.toggleZoom(), false, 'a lone pane is never zoomed');
  });

  test('selectLayout cycles with next and unzooms', () => {
    const { window } = windowOf(2);
    window.toggleZoom();
    assert.equal(window.selectLayout('next'), 'even-horizontal');
    assert.equal(window.zoomed, false);
    assert.equal(window.selectLayout('main-vertical'), 'main-vertical');
    assert.equal(window.selectLayout('next'), 'tiled');
  });

  test('fit gives each pane its rectangle less its title bar, and leaves zoomed-out panes alone', () => {
    const { window, panes } = windowOf(2);
    assert.equal(window.setSize(100, 41), true);
    assert.equal(window.setSize(100, 41), false, 'the same size again');
    window.fit();
    const rects = computeLayout('tiled', 2, 100, 41 - STATUS_ROWS, false, 1);
    assert.deepEqual(panes[0]!.sizes, [paneTerminalSize(rects[0]!)]);
    assert.deepEqual(panes[1]!.sizes, [paneTerminalSize(rects[1]!)]);
    window.toggleZoom();
    window.fit();
    assert.equal(panes[0]!.sizes.length, 1, 'hidden by zoom: keeps its size');
    assert.deepEqual(panes[1]!.sizes.at(-1), { cols: 100, rows: 41 - STATUS_ROWS - 1 });
  });

  test('nextPaneSize is the size the next pane gets once laid out', () => {
    const { window } = windowOf(1);
    assert.deepEqual(window.size, DEFAULT_SIZE);
    const predicted = window.nextPaneSize();
    const pane = fakePane(2);
    window.add(pane);
    window.fit();
    assert.deepEqual(pane.sizes, [predicted]);
  });
});
