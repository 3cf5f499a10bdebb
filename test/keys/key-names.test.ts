import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseSgrMouse } from '../../src/client/mouse.js';
import { keyNameToBytes, keyTokenName, normalizeKeyName, tokenizeInput } from '../../src/keys/key-names.js';

describe('keyNameToBytes', () => {
  test('tmux key names become the bytes an xterm sends', () => {
    const cases: Array<[string, string]> = [
      ['Enter', '\r'],
      ['C-c', '\x03'],
      ['Escape', '\x1b'],
      ['M-x', '\x1bx'],
      ['C-Space', '\x00'],
      ['F5', '\x1b[15~'],
      ['F1', '\x1bOP'],
      ['Up', '\x1b[A'],
      ['BSpace', '\x7f'],
      ['Tab', '\t'],
      ['PageUp', '\x1b[5~'],
      ['NPage', '\x1b[6~'],
      ['C-b', '\x02'],
      ['C-a', '\x01'],
      ['M-Enter', '\x1b\r'],
      ['M-C-c', '\x1b\x03'],
      ['C-[', '\x1b'],
      ['C-?', '\x7f'],
      ['S-a', 'A'],
      ['x', 'x'],
    ];
    for (const [name, bytes] of cases) assert.equal(keyNameToBytes(name), bytes, name);
  });

  test('names are case-insensitive, as in tmux', () => {
    assert.equal(keyNameToBytes('enter'), '\r');
    assert.equal(keyNameToBytes('ESCAPE'), '\x1b');
    assert.equal(keyNameToBytes('c-c'), '\x03');
    assert.equal(keyNameToBytes('C-C'), '\x03');
  });

  test('a word that is not a key name is undefined (send-keys sends it as text)', () => {
    for (const word of ['hello', 'Enterr', 'F13', 'C-', 'C-hello', 'C-1', 'X-a', '']) {
      assert.equal(keyNameToBytes(word), undefined, JSON.stringify(word));
    }
  });
});

describe('tokenizeInput', () => {
  test('splits arrows (CSI), SS3 and Meta characters into whole keys', () => {
    assert.deepEqual(tokenizeInput('a\x1b[Ab\x1bOAc\x1bx\x1b[1;5C'), [
      'a',
      '\x1b[A',
      'b',
      '\x1bOA',
      'c',
      '\x1bx',
      '\x1b[1;5C',
    ]);
  });

  test('function keys, control bytes and a lone trailing ESC', () => {
    assert.deepEqual(tokenizeInput('\x1b[15~\x02\r\x1b'), ['\x1b[15~', '\x02', '\r', '\x1b']);
    assert.deepEqual(tokenizeInput('\x1b\x1b[A'), ['\x1b', '\x1b[A']);
  });

  test('a bracketed paste is kept whole, escape sequences inside included', () => {
    const paste = '\x1b[200~line one\r\x1b[Aline two\x02\x1b[201~';
    assert.deepEqual(tokenizeInput(`x${paste}y`), ['x', paste, 'y']);
    // An unterminated paste keeps the rest of the chunk rather than splitting it into keys.
    assert.deepEqual(tokenizeInput('\x1b[200~abc'), ['\x1b[200~abc']);
  });

  test('emoji (surrogate pairs) stay one key, alone and after Meta', () => {
    assert.deepEqual(tokenizeInput('😀a漢\x1b😀'), ['😀', 'a', '漢', '\x1b😀']);
  });

  test('an SGR mouse report is one token', () => {
    assert.deepEqual(tokenizeInput('\x1b[<0;10;5Mq\x1b[<64;3;4M'), ['\x1b[<0;10;5M', 'q', '\x1b[<64;3;4M']);
  });

  test('tokens always add up to the input', () => {
    const input = 'ab\x1b[1;2A\x1bOP\x1b\x1b[<2;1;1m😀\x1b[200~p\x1b[201~\x1b';
    assert.equal(tokenizeInput(input).join(''), input);
  });
});

describe('keyTokenName', () => {
  test('round trips: name → bytes → token → the same name', () => {
    const names = [
      'Enter',
      'Escape',
      'Tab',
      'BTab',
      'BSpace',
      'Space',
      'Up',
      'Down',
      'Left',
      'Right',
      'Home',
      'End',
      'IC',
      'DC',
      'PageUp',
      'PageDown',
      ...Array.from({ length: 12 }, (_, i) => `F${i + 1}`),
      'C-Space',
      'C-a',
      'C-b',
      'C-c',
      'C-z',
      'M-x',
      'M-Enter',
      'M-O',
      'M-[',
      'M-C-c',
      'a',
      'Z',
      '漢',
      '😀',
    ];
    for (const name of names) {
      const bytes = keyNameToBytes(name);
      assert.ok(bytes !== undefined, name);
      const tokens = tokenizeInput(bytes);
      assert.equal(tokens.length, 1, `${name} is one token: ${JSON.stringify(tokens)}`);
      assert.equal(keyTokenName(tokens[0]!), name);
    }
  });

  test('application-cursor-mode arrows get their names too', () => {
    assert.equal(keyTokenName('\x1bOA'), 'Up');
    assert.equal(keyTokenName('\x1bOD'), 'Left');
    assert.equal(keyTokenName('\x1b[1~'), 'Home');
  });

  test('sequences without a name are undefined', () => {
    assert.equal(keyTokenName('\x1b[<0;1;1M'), undefined);
    assert.equal(keyTokenName('\x1b[200~paste\x1b[201~'), undefined);
    assert.equal(keyTokenName('\x1b[99z'), undefined);
  });

  test('normalizeKeyName canonicalises names written in config', () => {
    assert.equal(normalizeKeyName('c-b'), 'C-b');
    assert.equal(normalizeKeyName('space'), 'Space');
    assert.equal(normalizeKeyName('m-X'), 'M-X');
    assert.equal(normalizeKeyName('pgup'), 'PageUp');
    assert.equal(normalizeKeyName('not-a-key'), 'not-a-key');
  });
});

describe('parseSgrMouse', () => {
  test('press and release of each button, 1-based coordinates made 0-based', () => {
    assert.deepEqual(parseSgrMouse('\x1b[<0;10;5M'), { kind: 'press', button: 0, x: 9, y: 4 });
    assert.deepEqual(parseSgrMouse('\x1b[<0;10;5m'), { kind: 'release', button: 0, x: 9, y: 4 });
    assert.deepEqual(parseSgrMouse('\x1b[<2;1;1M'), { kind: 'press', button: 2, x: 0, y: 0 });
    assert.deepEqual(parseSgrMouse('\x1b[<1;300;100M'), { kind: 'press', button: 1, x: 299, y: 99 });
  });

  test('wheel and drag, with modifier bits ignored', () => {
    assert.deepEqual(parseSgrMouse('\x1b[<64;3;4M'), { kind: 'wheel-up', button: 0, x: 2, y: 3 });
    assert.deepEqual(parseSgrMouse('\x1b[<65;3;4M'), { kind: 'wheel-down', button: 0, x: 2, y: 3 });
    assert.deepEqual(parseSgrMouse('\x1b[<32;7;8M'), { kind: 'drag', button: 0, x: 6, y: 7 });
    // Ctrl (16) held while pressing the right button.
    assert.deepEqual(parseSgrMouse('\x1b[<18;2;2M'), { kind: 'press', button: 2, x: 1, y: 1 });
  });

  test('anything else is not a mouse report', () => {
    for (const token of ['\x1b[A', 'x', '\x1b[<0;1M', '\x1b[M !!', '\x1b[<0;1;1X', '\x1b[<a;1;1M']) {
      assert.equal(parseSgrMouse(token), undefined, JSON.stringify(token));
    }
  });
});
