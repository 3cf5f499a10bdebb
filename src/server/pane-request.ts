import type { PaneProcess } from '../panes/pane-process.js';

/** What a new pane needs; `process` lets later parts (Docker workers) supply their own. */
export interface NewPaneRequest {
  name?: string;
  command: string[];
  cwd?: string;
  env?: Record<string, string>;
  remainOnExit?: boolean;
  attemptId?: string;
  /** Agent run directory whose events.jsonl drives the pane's state and cost (DESIGN.md, "Agent status protocol"). */
  runDir?: string;
  /** Starts the pane's process at `size` (cells) instead of a local PTY running `command`. */
  process?: (size: { cols: number; rows: number }) => PaneProcess;
}
