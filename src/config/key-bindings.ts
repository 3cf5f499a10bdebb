/**
 * The actions a key can be bound to after the prefix, and the default table (DESIGN.md, "Keys").
 * The client turns an action name into behaviour; the config only checks that names are known.
 */

/** Every action a binding may name. `none` unbinds a default key. */
export const KEY_ACTIONS = [
  'focus-left',
  'focus-right',
  'focus-up',
  'focus-down',
  'next-pane',
  'last-pane',
  'show-numbers',
  'next-waiting',
  'zoom',
  'next-layout',
  'scroll-mode',
  'paste-buffer',
  'resize-left',
  'resize-right',
  'resize-up',
  'resize-down',
  'swap-prev',
  'swap-next',
  'detach',
  'task-board',
  'command-prompt',
  'stop-agent',
  'help',
  'send-prefix',
  'select-pane-0',
  'select-pane-1',
  'select-pane-2',
  'select-pane-3',
  'select-pane-4',
  'select-pane-5',
  'select-pane-6',
  'select-pane-7',
  'select-pane-8',
  'select-pane-9',
  'none',
] as const;

/** One of {@link KEY_ACTIONS}. */
export type KeyAction = (typeof KEY_ACTIONS)[number];

/**
 * A tmux key name: optional `C-`/`M-`/`S-` modifiers, then one printable ASCII character (`o`, `;`,
 * `?`) or a named key (`Space`, `Left`, `PageUp`, `F1`). tmux matches named keys case-insensitively,
 * so this does too. Anything else (`Ctrl+B`, `C b`) is refused rather than silently never matching.
 */
export const KEY_NAME_PATTERN = /^(?:[CMS]-)*(?:[!-~]|[A-Za-z][A-Za-z0-9]+)$/;

/**
 * The keys after the prefix, as DESIGN.md lists them. "Prefix twice sends the prefix" is not in the
 * table because the prefix is only known at runtime (`C-b`, or `C-a` inside tmux); the client
 * handles it unless the user binds that key to something else.
 */
export const DEFAULT_KEY_BINDINGS: Readonly<Record<string, KeyAction>> = {
  Left: 'focus-left',
  Right: 'focus-right',
  Up: 'focus-up',
  Down: 'focus-down',
  h: 'focus-left',
  j: 'focus-down',
  k: 'focus-up',
  l: 'focus-right',
  o: 'next-pane',
  ';': 'last-pane',
  '0': 'select-pane-0',
  '1': 'select-pane-1',
  '2': 'select-pane-2',
  '3': 'select-pane-3',
  '4': 'select-pane-4',
  '5': 'select-pane-5',
  '6': 'select-pane-6',
  '7': 'select-pane-7',
  '8': 'select-pane-8',
  '9': 'select-pane-9',
  q: 'show-numbers',
  w: 'next-waiting',
  z: 'zoom',
  Space: 'next-layout',
  '[': 'scroll-mode',
  ']': 'paste-buffer',
  'C-Left': 'resize-left',
  'C-Right': 'resize-right',
  'C-Up': 'resize-up',
  'C-Down': 'resize-down',
  '{': 'swap-prev',
  '}': 'swap-next',
  d: 'detach',
  t: 'task-board',
  ':': 'command-prompt',
  x: 'stop-agent',
  '?': 'help',
};
