/**
 * tmux key names ⇄ the bytes a terminal sends (xterm conventions, normal cursor mode).
 * Used by `send-keys`, the prefix key and the key bindings. Pure.
 * Names follow tmux(1) "KEY BINDINGS": Enter, Escape, Tab, BSpace, Space, Up, Down, Left, Right,
 * Home, End, PageUp/PPage, PageDown/NPage, IC, DC, F1–F12, and the modifiers C- and M-.
 */

const NAMED: Record<string, string> = {
  Enter: '\r',
  Escape: '\x1b',
  Tab: '\t',
  BTab: '\x1b[Z',
  BSpace: '\x7f',
  Space: ' ',
  Up: '\x1b[A',
  Down: '\x1b[B',
  Right: '\x1b[C',
  Left: '\x1b[D',
  Home: '\x1b[H',
  End: '\x1b[F',
  IC: '\x1b[2~',
  Insert: '\x1b[2~',
  DC: '\x1b[3~',
  Delete: '\x1b[3~',
  PageUp: '\x1b[5~',
  PPage: '\x1b[5~',
  PgUp: '\x1b[5~',
  PageDown: '\x1b[6~',
  NPage: '\x1b[6~',
  PgDn: '\x1b[6~',
  F1: '\x1bOP',
  F2: '\x1bOQ',
  F3: '\x1bOR',
  F4: '\x1bOS',
  F5: '\x1b[15~',
  F6: '\x1b[17~',
  F7: '\x1b[18~',
  F8: '\x1b[19~',
  F9: '\x1b[20~',
  F10: '\x1b[21~',
  F11: '\x1b[23~',
  F12: '\x1b[24~',
};

/** Lower-cased lookup, so `enter` and `ENTER` work as in tmux. */
const NAMED_LOWER = new Map(Object.entries(NAMED).map(([k, v]) => [k.toLowerCase(), v]));

/** The control byte for `C-<ch>`, or undefined when `ch` has none. */
function controlByte(ch: string): string | undefined {
  if (ch === ' ' || ch === '@' || ch.toLowerCase() === 'space') return '\x00';
  if (ch.length !== 1) return undefined;
  const code = ch.toUpperCase().charCodeAt(0);
  if (code >= 0x40 && code <= 0x5f) return String.fromCharCode(code - 0x40); // @ A-Z [ \ ] ^ _
  if (ch === '?') return '\x7f';
  return undefined;
}

/** Final bytes of the cursor keys xterm sends with modifiers (`CSI 1 ; m <final>`). */
const CURSOR_FINALS: Record<string, string> = {
  up: 'A',
  down: 'B',
  right: 'C',
  left: 'D',
  home: 'H',
  end: 'F',
};

/**
 * A cursor key with modifiers as xterm sends it (its "PC-style" function keys, which tmux's
 * extended-keys follow): `CSI 1 ; m X`, m = 1 + Shift 1 + Meta 2 + Ctrl 4 — `C-Left` is `ESC [1;5D`.
 */
function modifiedCursorKey(name: string): string | undefined {
  const match = /^((?:[CMS]-)+)(up|down|left|right|home|end)$/i.exec(name);
  if (!match) return undefined;
  const mods = match[1]!.toUpperCase();
  const m = 1 + (mods.includes('S-') ? 1 : 0) + (mods.includes('M-') ? 2 : 0) + (mods.includes('C-') ? 4 : 0);
  return `\x1b[1;${m}${CURSOR_FINALS[match[2]!.toLowerCase()]}`;
}

/** The tmux name of a modified cursor key's bytes (`ESC [1;5D` → `C-Left`), or undefined. */
function modifiedCursorName(token: string): string | undefined {
  const match = /^\x1b\[1;([2-8])([ABCDHF])$/.exec(token);
  if (!match) return undefined;
  const m = Number(match[1]) - 1;
  const key = Object.entries(CURSOR_FINALS).find(([, final]) => final === match[2])![0];
  const name = key.charAt(0).toUpperCase() + key.slice(1);
  return `${m & 4 ? 'C-' : ''}${m & 2 ? 'M-' : ''}${m & 1 ? 'S-' : ''}${name}`;
}

/**
 * The bytes for a tmux key name, e.g. `Enter` → "\r", `C-c` → "\x03", `M-x` → "\x1bx".
 * @returns undefined when `name` is not a key name (send-keys then sends it as literal text)
 */
export function keyNameToBytes(name: string): string | undefined {
  const named = NAMED_LOWER.get(name.toLowerCase());
  if (named !== undefined) return named;
  const cursor = modifiedCursorKey(name);
  if (cursor !== undefined) return cursor;
  const mod = /^([CMS])-(.+)$/i.exec(name);
  if (mod) {
    const [, m, rest] = mod as unknown as [string, string, string];
    const inner = keyNameToBytes(rest) ?? (rest.length === 1 ? rest : undefined);
    if (inner === undefined) return undefined;
    switch (m.toUpperCase()) {
      case 'C': {
        if (rest.length === 1 || rest.toLowerCase() === 'space') return controlByte(rest);
        return undefined;
      }
      case 'M':
        return `\x1b${inner}`;
      default:
        return rest.length === 1 ? rest.toUpperCase() : undefined;
    }
  }
  if ([...name].length === 1) return name; // one character, astral ones (emoji) included
  return undefined;
}

/**
 * Splits raw terminal input into keys: CSI and SS3 sequences, ESC-prefixed (Meta) characters,
 * single control bytes and whole Unicode characters. A lone trailing ESC stays a key of its own.
 * Bracketed paste (`ESC [200~ ... ESC [201~`) is returned as one token so it passes through whole.
 */
export function tokenizeInput(data: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < data.length) {
    const ch = data[i]!;
    if (ch === '\x1b') {
      if (data.startsWith('\x1b[200~', i)) {
        const end = data.indexOf('\x1b[201~', i);
        const stop = end < 0 ? data.length : end + 6;
        out.push(data.slice(i, stop));
        i = stop;
        continue;
      }
      const next = data[i + 1];
      if (next === '[') {
        // CSI: parameters and intermediates, then a final byte in 0x40–0x7e.
        let j = i + 2;
        // Legacy mouse (ESC [ M b x y) carries three raw bytes after the M.
        if (data[j] === 'M' && j + 3 < data.length + 1) {
          out.push(data.slice(i, Math.min(data.length, j + 4)));
          i = Math.min(data.length, j + 4);
          continue;
        }
        while (j < data.length && !(data.charCodeAt(j) >= 0x40 && data.charCodeAt(j) <= 0x7e)) j++;
        out.push(data.slice(i, j + 1));
        i = j + 1;
        continue;
      }
      if (next === 'O' && i + 2 < data.length) {
        out.push(data.slice(i, i + 3));
        i += 3;
        continue;
      }
      if (next !== undefined && next !== '\x1b') {
        const cp = data.codePointAt(i + 1)!;
        const len = cp > 0xffff ? 2 : 1;
        out.push(data.slice(i, i + 1 + len));
        i += 1 + len;
        continue;
      }
      out.push(ch);
      i += 1;
      continue;
    }
    const cp = data.codePointAt(i)!;
    const len = cp > 0xffff ? 2 : 1;
    out.push(data.slice(i, i + len));
    i += len;
  }
  return out;
}

const REVERSE = new Map<string, string>();
for (const [name, bytes] of Object.entries(NAMED)) if (!REVERSE.has(bytes)) REVERSE.set(bytes, name);
// Application cursor mode (DECCKM) sends SS3 for arrows and Home/End.
for (const [bytes, name] of [
  ['\x1bOA', 'Up'],
  ['\x1bOB', 'Down'],
  ['\x1bOC', 'Right'],
  ['\x1bOD', 'Left'],
  ['\x1bOH', 'Home'],
  ['\x1bOF', 'End'],
  ['\x1b[1~', 'Home'],
  ['\x1b[4~', 'End'],
] as const) {
  REVERSE.set(bytes, name);
}

/**
 * The tmux name of one key token from {@link tokenizeInput}: `a`, `Up`, `C-b`, `M-x`, `Space`.
 * @returns undefined for sequences with no name (mouse reports, paste, unknown CSI)
 */
export function keyTokenName(token: string): string | undefined {
  const named = REVERSE.get(token);
  if (named !== undefined) return named;
  const cursor = modifiedCursorName(token);
  if (cursor !== undefined) return cursor;
  if (token.length === 1) {
    const code = token.charCodeAt(0);
    if (code === 0) return 'C-Space';
    if (code < 0x20) return `C-${String.fromCharCode(code + 0x60)}`;
    if (code === 0x7f) return 'BSpace';
    return token;
  }
  // Two bytes `ESC [` or `ESC O` are Meta-[ / Meta-O; longer ones are CSI or SS3 sequences.
  if (token.startsWith('\x1b') && (token.length === 2 || (token[1] !== '[' && token[1] !== 'O'))) {
    const inner = keyTokenName(token.slice(1));
    return inner === undefined ? undefined : `M-${inner}`;
  }
  if ([...token].length === 1) return token;
  return undefined;
}

/** Normalises a key name as written in config (`c-b` → `C-b`, `space` → `Space`) for comparisons. */
export function normalizeKeyName(name: string): string {
  const bytes = keyNameToBytes(name);
  if (bytes === undefined) return name;
  return keyTokenName(bytes) ?? name;
}

/** Arrow and Home/End keys in normal cursor mode, and what they become in application mode (DECCKM). */
const APP_CURSOR: Record<string, string> = {
  '\x1b[A': '\x1bOA',
  '\x1b[B': '\x1bOB',
  '\x1b[C': '\x1bOC',
  '\x1b[D': '\x1bOD',
  '\x1b[H': '\x1bOH',
  '\x1b[F': '\x1bOF',
};
const NORMAL_CURSOR: Record<string, string> = Object.fromEntries(
  Object.entries(APP_CURSOR).map(([k, v]) => [v, k]),
);

/** The terminal modes of a pane that change what a key sends (xterm's `terminal.modes`). */
export interface KeyModes {
  applicationCursorKeysMode: boolean;
  bracketedPasteMode: boolean;
}

/**
 * Adapts keys to the modes the pane's program set, as tmux does in its input-keys.c: cursor keys
 * in the program's cursor mode (DECCKM: `ESC [ A` ↔ `ESC O A`), and a bracketed paste unwrapped
 * when the program did not ask for bracketed paste (mode 2004). Typed keys and `send-keys` both
 * pass through here, in the pane, so they agree.
 *
 * @param data keys as a client sent them (typed or from key names)
 * @returns the bytes for the program, unchanged when nothing applies
 */
export function adaptKeysToModes(data: string, modes: KeyModes): string {
  if (!data.includes('\x1b')) return data;
  let out = '';
  for (const token of tokenizeInput(data)) {
    if (token.startsWith('\x1b[200~')) {
      out += modes.bracketedPasteMode ? token : token.slice(6).replace(/\x1b\[201~$/, '');
    } else if (modes.applicationCursorKeysMode) out += APP_CURSOR[token] ?? token;
    else out += NORMAL_CURSOR[token] ?? token;
  }
  return out;
}
