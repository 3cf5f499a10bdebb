import type { Output } from './output.js';

/** What every command gets: where it runs, where it prints, and the parsed global flags. */
export interface CommandEnv {
  cwd: string;
  env: NodeJS.ProcessEnv;
  output: Output;
  /** Reads all of standard input (for `task add -`). */
  readStdin(): Promise<string>;
  /**
   * Runs another orchestra command in this process (the TUI's `:` prompt), `argv` without
   * `node orchestra`. @returns its exit code
   */
  run?(argv: string[], env: Partial<CommandEnv>): Promise<number>;
}
