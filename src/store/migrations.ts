/**
 * Upgrades of `state.json` from older formats. Each entry of a migration table takes a raw object
 * of version `v` and returns one of version `v + 1`; `migrateState` chains them up to
 * `STATE_VERSION` and then validates the result against `stateSchema`.
 */
import { OrchestraError } from '../common/errors.js';
import { STATE_VERSION, type State, stateSchema } from './schema.js';

/** One upgrade step: a raw state of version `v` in, a raw state of version `v + 1` out. */
export type Migration = (raw: Record<string, unknown>) => Record<string, unknown>;

/** Upgrade steps keyed by the version they upgrade FROM. */
export type MigrationTable = Readonly<Record<number, Migration>>;

/**
 * The real upgrade steps. Version 1 is the first format, so there is nothing to upgrade yet; the
 * first entry will be `1: (v1) => ({ ...v1, version: 2, ... })`.
 */
export const STATE_MIGRATIONS: MigrationTable = {};

/**
 * Brings a parsed state file up to version `latest` through `table`, without validating the
 * result. Exposed so tests can run the chaining logic over a table of their own.
 *
 * @param raw the parsed JSON of the file
 * @returns a raw object whose `version` is `latest`
 * @throws OrchestraError STATE_CORRUPT when `raw` is not an object with a positive integer
 *   `version`, or a step is missing or returns the wrong version
 * @throws OrchestraError STATE_TOO_NEW (see {@link isStateTooNew}) when the file is newer than `latest`:
 *   it was written by a newer orchestra and is not corrupt, so it must not be moved aside
 */
export function runMigrations(raw: unknown, table: MigrationTable, latest: number): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new OrchestraError('STATE_CORRUPT', 'state file does not hold a JSON object');
  }
  let current = raw as Record<string, unknown>;
  const from = current.version;
  if (typeof from !== 'number' || !Number.isInteger(from) || from < 1) {
    throw new OrchestraError('STATE_CORRUPT', 'state file has no valid "version" field');
  }
  if (from > latest) {
    throw new StateTooNewError(from, latest);
  }
  for (let v = from; v < latest; v++) {
    const step = table[v];
    if (step === undefined) {
      throw new OrchestraError('STATE_CORRUPT', `no upgrade from state version ${v} to ${v + 1}`);
    }
    current = step(current);
    if (current.version !== v + 1) {
      throw new OrchestraError(
        'STATE_CORRUPT',
        `upgrade from state version ${v} produced version ${String(current.version)}, expected ${v + 1}`,
      );
    }
  }
  return current;
}

/**
 * Turns the parsed JSON of `state.json` into a current, valid {@link State}.
 *
 * @param raw the parsed JSON
 * @param table upgrade steps, {@link STATE_MIGRATIONS} unless a test supplies its own
 * @throws OrchestraError STATE_CORRUPT when the file is not a valid state of any known version
 *   (the message lists the first offending fields)
 * @throws OrchestraError STATE_TOO_NEW (see {@link isStateTooNew}) when the file comes from a newer
 *   orchestra
 */
export function migrateState(raw: unknown, table: MigrationTable = STATE_MIGRATIONS): State {
  const upgraded = runMigrations(raw, table, STATE_VERSION);
  const result = stateSchema.safeParse(upgraded);
  if (!result.success) {
    throw new OrchestraError(
      'STATE_CORRUPT',
      `state file does not match the schema: ${summarizeIssues(result.error)}`,
    );
  }
  return result.data;
}

/** The state file was written by a newer orchestra (code STATE_TOO_NEW); it is left untouched. */
export class StateTooNewError extends OrchestraError {
  readonly fileVersion: number;

  constructor(fileVersion: number, knownVersion: number) {
    super(
      'STATE_TOO_NEW',
      `state.json has format version ${fileVersion}, but this orchestra only knows up to version ${knownVersion}`,
      { hint: 'a newer orchestra wrote this file: upgrade orchestra to that version or later, then retry' },
    );
    this.fileVersion = fileVersion;
  }
}

/** True when `error` says the state file comes from a newer orchestra. */
export function isStateTooNew(error: unknown): error is StateTooNewError {
  return error instanceof StateTooNewError;
}

/** The first few zod issues as `path: message; ...`, one line for logs and error messages. */
export function summarizeIssues(error: {
  issues: readonly { path: readonly PropertyKey[]; message: string }[];
}): string {
  const shown = error.issues.slice(0, 5).map((issue) => {
    const path = issue.path.map(String).join('.');
    return path === '' ? issue.message : `${path}: ${issue.message}`;
  });
  const more = error.issues.length - shown.length;
  return more > 0 ? `${shown.join('; ')}; and ${more} more` : shown.join('; ');
}
