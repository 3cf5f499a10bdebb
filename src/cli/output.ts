import { isOrchestraError } from '../common/errors.js';
import { printable } from '../common/printable.js';

/** Where CLI commands print; tests and the TUI's `:` prompt can capture it. */
export interface Output {
  out(line: string): void;
  err(line: string): void;
}

/** Output to the process's stdout and stderr. */
export const processOutput: Output = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** Prints a value as indented JSON (the `--json` form of a command). */
export function printJson(output: Output, value: unknown): void {
  // JSON leaves C1 controls and bidi overrides as they are; a terminal may act on them (text of an
  // agent's diff, a task title), so they are written as \u escapes, which parse the same.
  output.out(
    JSON.stringify(value, null, 2).replace(
      /[\u0080-\u009f\u202a-\u202e\u2066-\u2069]/g,
      (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
    ),
  );
}

/**
 * Prints an error the way every command does: `error: <message>` and, when known, `hint: <hint>`.
 * With `debug`, the stack (and causes) follow.
 */
export function printError(output: Output, error: unknown, debug: boolean): void {
  if (isOrchestraError(error)) {
    output.err(`error: ${printable(error.message)}`);
    if (error.hint) output.err(`hint: ${printable(error.hint)}`);
  } else {
    const message = error instanceof Error ? error.message : String(error);
    output.err(`error: ${printable(message.split('\n')[0] ?? '')}`);
    if (!debug) output.err('hint: run again with --debug for details, and report it if it looks like a bug');
  }
  if (debug && error instanceof Error) {
    output.err(printable(error.stack ?? String(error), { multiline: true }));
    let cause = error.cause;
    while (cause instanceof Error) {
      output.err(`caused by: ${printable(cause.stack ?? cause.message, { multiline: true })}`);
      cause = cause.cause;
    }
  }
}

/**
 * Left-aligned columns for human-readable tables; the last column is not padded. Every cell goes
 * through {@link printable} (one line), so a table can hold titles and names straight from task
 * files and the store.
 */
export function formatTable(cells: string[][]): string[] {
  const rows = cells.map((row) => row.map((cell) => printable(cell)));
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

/**
 * Thrown by a command that has already printed its own report and only needs a non-zero exit
 * (for example `config validate` listing every problem). `main` turns it into the exit code quietly.
 */
export class QuietExit extends Error {
  readonly exitCode: number;

  constructor(exitCode: number) {
    super(`exit ${exitCode}`);
    this.exitCode = exitCode;
  }
}
