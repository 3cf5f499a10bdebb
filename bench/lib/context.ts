import type { Cleanup } from './cleanup.js';

/** What every scenario gets from the runner. */
export interface BenchContext {
  /** This run's id: in every session and socket name, and in the run-marker variable. */
  runId: string;
  /** Temp directory of this run (removed at the end): fixtures, logs, orchestra and tmux sockets. */
  dir: string;
  /**
   * Environment for every process started: the run marker, `ORCHESTRA_TMPDIR` and `TMUX_TMPDIR`
   * inside `dir`, and no `TMUX`/`ORCHESTRA_SESSION` leaking in from the caller's terminal.
   */
  env: NodeJS.ProcessEnv;
  cleanup: Cleanup;
  /**
   * Node flags for an orchestra process (server or `orchestra attach`): with `--profile`,
   * `--cpu-prof` into bench/out/profiles/<label>/; otherwise none.
   */
  nodeFlags(label: string): string[];
  /** Progress line on stderr. */
  log(line: string): void;
  /** A session or socket name unique to this run. */
  name(prefix: string): string;
}
