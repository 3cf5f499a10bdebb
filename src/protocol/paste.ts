/**
 * The most characters the session's paste buffer holds (copy mode's copy, `set-buffer`): about what
 * a terminal's OSC 52 takes, and a screenful of history many times over. Shared by the client,
 * which cuts a longer selection to it, and the server, which refuses more.
 */
export const PASTE_BUFFER_MAX_CHARS = 256 * 1024;
