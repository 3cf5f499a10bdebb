import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { printable } from '../../src/common/printable.js';

/** Untrusted text on a terminal: nothing the terminal would act on survives, the words do. */
describe('printable', () => {
  test('removes OSC (clipboard, window title) up to BEL or ST, and unterminated ones', () => {
    assert.equal(printable('a\x1b]52;c;ZXZpbA==\x07b'), 'ab');
    assert.equal(printable('a\x1b]0;pwned\x1b\\b'), 'ab');
    assert.equal(printable('a\x9d0;pwned\x9cb'), 'ab');
    assert.equal(printable('title\x1b]52;c;ZXZpbA=='), 'title');
  });

  test('removes CSI in 7-bit and 8-bit form, and other escapes', () => {
    assert.equal(printable('\x1b[2J\x1b[H\x1b[31mred\x1b[0m'), 'red');
    assert.equal(printable('\x9b2Jclear'), 'clear');
    assert.equal(printable('\x1b[?1049hx'), 'x');
    assert.equal(printable('\x1bcreset\x1b(Bcharset\x1b7'), 'resetcharset');
  });

  test('removes DCS, SOS, PM and APC strings', () => {
    assert.equal(printable('a\x1bPq#0;2;0;0;0\x1b\\b'), 'ab');
    assert.equal(printable('a\x1bXsos\x1b\\b\x1b^pm\x1b\\c\x1b_apc\x1b\\d'), 'abcd');
    assert.equal(printable('a\x90dcs\x9cb'), 'ab');
  });

  test('removes C0, DEL, C1 and bidi overrides; keeps printable Unicode', () => {
    assert.equal(printable('a\x00b\x08c\x7fd\x85e\u202ef'), 'abcdef');
    assert.equal(printable('Café 日本語 🎉 — ok'), 'Café 日本語 🎉 — ok');
  });

  test('one line by default; multiline keeps line feeds and tabs, drops carriage returns', () => {
    assert.equal(printable('one\ntwo\tthree\r\nfour'), 'one two three four');
    assert.equal(printable('one\r\ntwo\n\tthree\rx', { multiline: true }), 'one\ntwo\n\tthreex');
  });
});
