/**
 * The most characters the session's paste buffer holds (copy mode's copy, `set-buffer`): about what
 * a terminal's OSC 52 takes, and a screenful of history many times over. Shared by the client,
 * which cuts a longer selection to it, and the server, which refuses more.
 */
export const PASTE_BUFFER_MAX_CHARS = 256 * 1024;

/** `text` cut to {@link PASTE_BUFFER_MAX_CHARS}, never through a surrogate pair; unchanged when it fits. */
export function cutToPasteLimit(text: string): string {
  if (text.length <= PASTE_BUFFER_MAX_CHARS) return text;
  return text.slice(0, PASTE_BUFFER_MAX_CHARS).replace(/[\ud800-\udbff]$/, '');
}
