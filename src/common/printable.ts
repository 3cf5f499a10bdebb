/**
 * Text from task files, the store, git or a pane's process is untrusted: printed raw, an escape
 * sequence in a task title can clear the screen, retitle the window or write the clipboard
 * (OSC 52). This is the one place such text is made safe to show on a terminal.
 */

/**
 * Escape sequences (ECMA-48), in either 7-bit (`ESC x`) or 8-bit (C1) form, each removed whole:
 * - OSC, DCS, SOS, PM, APC: a string up to ST (`ESC \` or 0x9c) or, for OSC, BEL — or to the end of
 *   the text when unterminated, as a terminal would swallow it too;
 * - CSI: parameter and intermediate bytes, then one final byte;
 * - any other escape: intermediate bytes (nF, e.g. `ESC ( B`), then one final byte.
 */
const ESCAPE_SEQUENCE =
  /(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[\s\S]*?(?:\x1b\\|\x9c|\x07|$)|(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?|\x1b[\x20-\x2f]*[\x30-\x7e]?/g;

/** C0 controls but tab and line feed, DEL, and C1 controls. */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

/**
 * Bidirectional embeddings, overrides and isolates: not controls to a terminal, but they reorder
 * what is shown, so a title could display as something it is not ("Trojan Source", CVE-2021-42574).
 */
const BIDI_CONTROL = /[\u202a-\u202e\u2066-\u2069]/g;

/**
 * Makes untrusted text safe to print on a terminal: escape sequences (CSI, OSC, DCS, SOS, PM, APC
 * and the rest) and C0/C1 control characters are removed; printable Unicode is kept as it is.
 *
 * @param text any string
 * @param options.multiline keep line feeds and tabs (a whole task file); CR LF becomes LF.
 *   Without it (one table cell, one message line) every line break or tab becomes one space.
 * @returns the text without anything a terminal would act on
 */
export function printable(text: string, options: { multiline?: boolean } = {}): string {
  let out = text.replace(/\r\n/g, '\n').replace(ESCAPE_SEQUENCE, '');
  out = options.multiline ? out.replace(/[\u2028\u2029]/g, '\n') : out.replace(/[\t\n\r\u2028\u2029]+/g, ' ');
  return out.replace(CONTROL, '').replace(BIDI_CONTROL, '');
}
