import type { KeyAction } from '../config/key-bindings.js';
import { keyTokenName, tokenizeInput } from '../keys/key-names.js';
import { parseSgrMouse } from './mouse.js';

/** A mouse report, as {@link parseSgrMouse} reads it. */
export type MouseEvent = NonNullable<ReturnType<typeof parseSgrMouse>>;

/** What the TUI is showing, as far as routing keys goes. */
export type RouterMode = 'normal' | 'numbers' | 'other';

/** What one key (or run of keys) of the person's input means. */
export type InputAction =
  /** Bytes for the focused pane, as typed (the pane adapts cursor keys and pastes to its modes). */
  | { kind: 'forward'; data: string }
  | { kind: 'mouse'; event: MouseEvent }
  /** A key for the open mode: prompt, confirm, scroll mode, the task board or an overlay. */
  | { kind: 'mode-key'; token: string }
  /** Any key ends the pane numbers (`prefix q`); the key then routes as in normal mode. */
  | { kind: 'end-numbers' }
  /** A digit while the pane numbers show: select that pane (by index). */
  | { kind: 'select-pane'; target: string }
  /** The prefix key: the next key is a command. */
  | { kind: 'prefix' }
  /** The key after the prefix: its bound action, or undefined for an unbound key. */
  | { kind: 'command'; action: KeyAction | undefined };

/**
 * The TUI's key handling without the screen or the socket (keys in, actions out), so the prefix
 * table can be tested as data. Holds one piece of state: whether the prefix was just pressed.
 */
export class InputRouter {
  /** True between the prefix key and the key after it. */
  prefixPending = false;

  /**
   * @param prefixBytes the bytes the prefix key sends (`\x02` for C-b)
   * @param bindings prefix-table key names (normalised, as `normalizeKeyName` writes them) to actions
   */
  constructor(
    readonly prefixBytes: string,
    private readonly bindings: ReadonlyMap<string, KeyAction>,
  ) {}

  /**
   * Routes one chunk of input. A generator, applied as it goes: `mode` is read again before each
   * key, since the action of one key (Enter at the prompt, the prefix table) changes how the next
   * is meant. Consecutive pane bytes come out as one `forward`.
   */
  *route(input: string, mode: () => RouterMode): Generator<InputAction> {
    let forward = '';
    for (const token of tokenizeInput(input)) {
      const mouse = parseSgrMouse(token);
      const current = mode();
      if (mouse || current === 'other' || this.prefixPending || token === this.prefixBytes) {
        if (forward) yield { kind: 'forward', data: forward };
        forward = '';
      }
      if (mouse) {
        yield { kind: 'mouse', event: mouse };
        continue;
      }
      if (current === 'other') {
        yield { kind: 'mode-key', token };
        continue;
      }
      if (current === 'numbers') {
        yield { kind: 'end-numbers' };
        if (/^[0-9]$/.test(token)) {
          yield { kind: 'select-pane', target: token };
          continue;
        }
      }
      if (this.prefixPending) {
        this.prefixPending = false;
        yield { kind: 'command', action: this.commandFor(token) };
        continue;
      }
      if (token === this.prefixBytes) {
        this.prefixPending = true;
        yield { kind: 'prefix' };
        continue;
      }
      forward += token;
    }
    if (forward) yield { kind: 'forward', data: forward };
  }

  /** The action of the key after the prefix; the prefix twice sends the prefix to the pane. */
  private commandFor(token: string): KeyAction | undefined {
    const name = keyTokenName(token);
    const action = name === undefined ? undefined : this.bindings.get(name);
    if (action === undefined || action === 'none')
      return token === this.prefixBytes ? 'send-prefix' : undefined;
    return action;
  }
}
