import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_COLOR, FLAG_INVISIBLE, packAttr } from '../../src/client/cell-render.js';
import type { ViewCell } from '../../src/client/pane-view.js';
import {
  type ScrollHost,
  type ScrollState,
  scrollKey,
  selectionSpan,
  selectionText,
} from '../../src/client/scroll-mode.js';
import { PASTE_BUFFER_MAX_CHARS } from '../../src/protocol/paste.js';

function cells(text: string, cols: number): ViewCell[] {
  return [...text.padEnd(cols)].map((ch) => [0, ch] as ViewCell);
}

/** A scroll view of 5 lines × 10 columns, all fetched, showing lines 2–4. */
function view(): { mode: ScrollState; host: ScrollHost; requests: unknown[]; left: () => boolean } {
  const lines = new Map([0, 1, 2, 3, 4].map((y) => [y, cells(`line ${y}`, 10)]));
  const mode: ScrollState = {
    kind: 'scroll',
    ...{ pane: 1, top: 2, total: 5, base: 2, height: 3, cols: 10, lines, loading: false },
    cursor: { line: 4, col: 0 },
  };
  const requests: unknown[] = [];
  let leftMode = false;
  const host: ScrollHost = {
    request: async <T>(command: unknown) => {
      requests.push(command);
      return { text: 'x' } as T;
    },
    flash: () => {},
    requestRender: () => {},
    enter: () => {},
    showing: () => true,
    leave: () => {
      leftMode = true;
    },
    copied: () => {},
  };
  return { mode, host, requests, left: () => leftMode };
}

describe('copy mode keys', () => {
  test('the cursor moves with the keys, and the view follows it up', () => {
    const { mode, host } = view();
    scrollKey(host, mode, 'l');
    scrollKey(host, mode, 'l');
    assert.deepEqual(mode.cursor, { line: 4, col: 2 });
    for (let i = 0; i < 3; i++) scrollKey(host, mode, 'k');
    assert.deepEqual(mode.cursor, { line: 1, col: 2 });
    assert.equal(mode.top, 1, 'scrolled up to show the cursor');
    scrollKey(host, mode, '$');
    assert.equal(mode.cursor.col, 5, 'the last cell that is not blank ("line 1")');
    scrollKey(host, mode, '0');
    assert.equal(mode.cursor.col, 0);
    scrollKey(host, mode, 'h');
    assert.equal(mode.cursor.col, 0, 'kept in the buffer');
  });

  test('v starts a selection to the cursor, whole lines between; Escape drops it before leaving', () => {
    const { mode, host, left } = view();
    mode.cursor = { line: 2, col: 3 };
    scrollKey(host, mode, 'v');
    scrollKey(host, mode, 'j');
    scrollKey(host, mode, 'j');
    scrollKey(host, mode, 'h');
    assert.deepEqual(selectionSpan(mode, 2), [3, 9]);
    assert.deepEqual(selectionSpan(mode, 3), [0, 9]);
    assert.deepEqual(selectionSpan(mode, 4), [0, 2]);
    assert.equal(selectionSpan(mode, 1), undefined);
    scrollKey(host, mode, '\x1b');
    assert.equal(mode.anchor, undefined);
    assert.equal(left(), false);
    scrollKey(host, mode, '\x1b');
    assert.equal(left(), true);
  });

  test('y copies what the person saw: the shown cells from the anchor to the cursor', async () => {
    const { mode, host, requests } = view();
    scrollKey(host, mode, 'y');
    assert.deepEqual(requests, []);
    mode.cursor = { line: 3, col: 1 };
    scrollKey(host, mode, ' ');
    scrollKey(host, mode, 'j');
    scrollKey(host, mode, 'l');
    scrollKey(host, mode, 'y');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(requests, [{ cmd: 'set-buffer', data: 'ine 3\nlin' }]);
  });

  test("the text leaves out concealed cells and wide characters' right halves, and joins wrapped lines", () => {
    const { mode } = view();
    const hidden = packAttr(FLAG_INVISIBLE, DEFAULT_COLOR, DEFAULT_COLOR);
    mode.lines.set(0, [
      [0, 'e'],
      [0, 'c'],
      [0, 'h'],
      [0, 'o'],
      [hidden, ';'],
      [hidden, 'x'],
      [0, ' '],
      [0, '字'],
      [0, ''],
      [0, ' '],
    ]);
    mode.lines.set(1, cells('wrapped to', 10));
    mode.lines.set(2, cells('next  ', 10));
    mode.wrapped = new Set([2]);
    mode.anchor = { line: 0, col: 0 };
    mode.cursor = { line: 2, col: 9 };
    assert.equal(selectionText(mode), 'echo 字\nwrapped tonext');
  });

  test('a selection longer than the paste buffer is cut to it, and the person is told', async () => {
    const { mode, host, requests } = view();
    const flashes: string[] = [];
    host.flash = (text) => flashes.push(text);
    const cols = 1000;
    mode.cols = cols;
    for (let y = 0; y < 300; y++) mode.lines.set(y, cells('x'.repeat(cols), cols));
    mode.total = 300;
    mode.anchor = { line: 0, col: 0 };
    mode.cursor = { line: 299, col: cols - 1 };
    scrollKey(host, mode, 'y');
    await new Promise((r) => setTimeout(r, 10));
    const sent = requests[0] as { cmd: string; data: string };
    assert.equal(sent.cmd, 'set-buffer');
    assert.equal(sent.data.length, PASTE_BUFFER_MAX_CHARS);
    assert.match(flashes.join(' '), /cut to its first 262144 characters/);
  });
});
