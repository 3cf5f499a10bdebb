/**
 * SGR mouse reports (`ESC [ < b ; x ; y M|m`, xterm's mode 1006), as the client's own terminal sends
 * them once mouse tracking is on. Pure.
 */
export interface MouseEvent {
  kind: 'press' | 'release' | 'drag' | 'wheel-up' | 'wheel-down';
  /** 0 left, 1 middle, 2 right */
  button: number;
  /** 0-based cell coordinates */
  x: number;
  y: number;
}

const SGR_MOUSE = /^\x1b\[<(\d+);(\d+);(\d+)([Mm])$/;

/** Parses one SGR mouse token; undefined when `token` is not one. */
export function parseSgrMouse(token: string): MouseEvent | undefined {
  const match = SGR_MOUSE.exec(token);
  if (!match) return undefined;
  const code = Number(match[1]);
  const x = Number(match[2]) - 1;
  const y = Number(match[3]) - 1;
  if (code & 64) return { kind: code & 1 ? 'wheel-down' : 'wheel-up', button: 0, x, y };
  const button = code & 3;
  if (code & 32) return { kind: 'drag', button, x, y };
  return { kind: match[4] === 'M' ? 'press' : 'release', button, x, y };
}

/** Turns mouse reporting on: button events, drags, SGR coordinates (xterm modes 1000, 1002, 1006). */
export const MOUSE_ON = '\x1b[?1000h\x1b[?1002h\x1b[?1006h';
export const MOUSE_OFF = '\x1b[?1006l\x1b[?1002l\x1b[?1000l';
/** Bracketed paste on the client's own terminal, so pastes arrive marked (xterm mode 2004). */
export const PASTE_ON = '\x1b[?2004h';
export const PASTE_OFF = '\x1b[?2004l';
