/**
 * The lowdb adapter behind `StateStore`: reads `state.json` through `migrateState` and writes it
 * with `writeFileAtomic`. lowdb's own `JSONFile` (steno) was not used: it renames a fixed temp name
 * (`.state.json.tmp`) without fsync, and its read returns `null` for an empty file, which lowdb
 * then treats as "keep the old data" — both wrong for a file several processes share.
 */
import { readFile } from 'node:fs/promises';
import type { Adapter } from 'lowdb';
import { writeFileAtomic } from '../common/atomic-write.js';
import { errorMessage, isOrchestraError, OrchestraError } from '../common/errors.js';
import { isStateTooNew, type MigrationTable, migrateState, STATE_MIGRATIONS } from './migrations.js';
import type { State } from './schema.js';

/**
 * The file exists but holds no usable state (empty, not JSON, schema mismatch). The store moves
 * such a file aside; any other read failure (permissions, a newer format) is passed on untouched.
 */
export class CorruptStateFileError extends OrchestraError {
  /** why the file is unusable, without the path */
  readonly reason: string;

  constructor(path: string, reason: string) {
    super('STATE_CORRUPT', `${path}: ${reason}`, {
      hint: 'the store moves such a file aside as state.json.corrupt-<time> and starts from an empty state',
    });
    this.name = 'CorruptStateFileError';
    this.reason = reason;
  }
}

/** Reads and writes one `state.json`; one instance per store. */
export class StateFileAdapter implements Adapter<State> {
  readonly path: string;
  readonly #migrations: MigrationTable;

  /**
   * @param path absolute path of `state.json`
   * @param migrations upgrade steps (tests may pass their own)
   */
  constructor(path: string, migrations: MigrationTable = STATE_MIGRATIONS) {
    this.path = path;
    this.#migrations = migrations;
  }

  /**
   * @returns the state, or null when the file does not exist
   * @throws CorruptStateFileError when the file is empty, not JSON or not a valid state
   * @throws StateTooNewError when a newer orchestra wrote the file
   * @throws OrchestraError STATE_CORRUPT (not a CorruptStateFileError) when the file cannot be read
   */
  async read(): Promise<State | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new OrchestraError('STATE_CORRUPT', `cannot read ${this.path}: ${errorMessage(error)}`, {
        hint: 'check that the file is a regular file you can read and write',
        cause: error,
      });
    }
    // A zero-byte file is what a crash leaves behind with a non-atomic writer; it is not "no state".
    if (text.trim() === '') throw new CorruptStateFileError(this.path, 'state file is empty');
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (error) {
      throw new CorruptStateFileError(this.path, `state file is not valid JSON: ${errorMessage(error)}`);
    }
    try {
      return migrateState(raw, this.#migrations);
    } catch (error) {
      if (isStateTooNew(error) || !isOrchestraError(error, 'STATE_CORRUPT')) throw error;
      throw new CorruptStateFileError(this.path, error.message);
    }
  }

  /** Writes `data` as pretty JSON, atomically (temp file, fsync, rename). */
  async write(data: State): Promise<void> {
    await writeFileAtomic(this.path, `${JSON.stringify(data, null, 2)}\n`);
  }
}
