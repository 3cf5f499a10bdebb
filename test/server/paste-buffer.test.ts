import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cleanPasteText, PASTE_BUFFER_MAX_CHARS, pasteBytes } from '../../src/server/paste-buffer.js';

describe('the paste buffer', () => {
  test('keeps typed text only: no control character or escape, whoever set it', () => {
    assert.equal(cleanPasteText('ls\x1b[201~\x07\x9b1;2Hx\r\ny\tz'), 'ls[201~1;2Hx\ny\tz');
    const long = `${'a'.repeat(PASTE_BUFFER_MAX_CHARS - 1)}😀`;
    assert.equal(cleanPasteText(long).length, PASTE_BUFFER_MAX_CHARS - 1, 'never half a surrogate pair');
  });

  test('typed into a pane: newlines become Enter; a nested end marker cannot end a bracketed paste', () => {
    assert.equal(pasteBytes('a\nb\r\nc', false), 'a\rb\rc');
    const bytes = pasteBytes('a\x1b[20\x1b[201~1~b', true);
    assert.equal(bytes, '\x1b[200~a[20[201~1~b\x1b[201~');
    assert.equal(bytes.split('\x1b[201~').length, 2, 'one end marker: the paste’s own');
  });
});
