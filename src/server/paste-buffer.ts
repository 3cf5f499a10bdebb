import { cutToPasteLimit, PASTE_BUFFER_MAX_CHARS } from '../protocol/paste.js';

export { PASTE_BUFFER_MAX_CHARS };

/**
 * Text as the paste buffer keeps it: every control character and escape (C0 but tab and line
 * feed, DEL, C1) taken out, so what is pasted can only ever be typed text, and cut at
 * {@link PASTE_BUFFER_MAX_CHARS} on a character boundary.
 */
export function cleanPasteText(text: string): string {
  const clean = text.replace(/\r\n?/g, '\n').replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, '');
  return cutToPasteLimit(clean);
}

/**
 * The bytes that type `text` (already {@link cleanPasteText}) into a pane as tmux's `paste-buffer`
 * does: line feeds become carriage returns (Enter), and when the pane's program asked for
 * bracketed paste (mode 2004) the text is wrapped in its markers. Controls are taken out again
 * here, whoever set the text: no ESC can end the paste early and be read as typed keys.
 */
export function pasteBytes(text: string, bracketed: boolean): string {
  const body = cleanPasteText(text).replace(/\n/g, '\r');
  return bracketed ? `\x1b[200~${body}\x1b[201~` : body;
}
