/**
 * The state store: `.orchestra/state.json` behind lowdb, shared by every orchestra process of a
 * repository (the server, short-lived CLI commands, a second server that lost a race).
 *
 * Every `update` is one transaction: in-process callers queue behind each other, then the process
 * takes a file lock (proper-lockfile, a `state.json.lock` directory), re-reads the file, applies
 * the mutation, validates the result and writes it atomically before releasing the lock. Readers
 * never need the lock because the file is only ever replaced by rename.
 */

import { lstat, mkdir, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Low } from 'lowdb';
import { lock } from 'proper-lockfile';
import { waitingOutDiskFull } from '../common/disk-full.js';
import { OrchestraError } from '../common/errors.js';
import { type MigrationTable, summarizeIssues } from './migrations.js';
import { emptyState, type ReadonlyState, type State, stateSchema } from './schema.js';
import { CorruptStateFileError, StateFileAdapter } from './state-file-adapter.js';

/** What `onCorrupt` hears when an unusable state file was moved aside. */
export interface CorruptStateInfo {
  /** the state file's path */
  path: string;
  /** where the unusable file now is: `<path>.corrupt-<YYYYMMDDTHHmmssZ>[-N]` */
  movedTo: string;
  /** one line: why the file could not be used */
  reason: string;
}

export interface StateStoreOptions {
  /**
   * Called after an unusable file (empty, bad JSON, schema mismatch) was renamed aside; the store
   * then carries on from an empty state. Without it the move happens silently from the store's
   * side, so callers that can report it should pass one.
   */
  onCorrupt?: (info: CorruptStateInfo) => void;
  /**
   * How long `update` waits for another process to release the lock, in ms, before throwing
   * STATE_LOCKED. Default {@link DEFAULT_LOCK_TIMEOUT_MS}.
   */
  lockTimeoutMs?: number;
  /**
   * How long an update waits for space when the disk is full (ENOSPC, EDQUOT) before it throws,
   * ms; default DEFAULT_DISK_FULL_PATIENCE_MS (common/disk-full.ts).
   */
  diskFullPatienceMs?: number;
  /** Called once per update that finds the disk full and waits (to tell a person). */
  onDiskFull?: (error: Error) => void;
  /** Upgrade steps for older files; tests only. */
  migrations?: MigrationTable;
}

/**
 * A held lock whose directory has not been touched for this long (ms) is considered left behind
 * by a dead process and taken over. proper-lockfile's default: the holder refreshes the mtime
 * every stale/2 = 5 s, so only a process that died (or froze for 10 s) loses its lock.
 */
const LOCK_STALE_MS = 10_000;

/** Longer than {@link LOCK_STALE_MS}, so a lock left by a crashed process is recovered, not reported. */
export const DEFAULT_LOCK_TIMEOUT_MS = 20_000;

/** Backoff between lock attempts, ms: short because a transaction holds the lock for milliseconds. */
const LOCK_RETRY_MIN_MS = 2;
const LOCK_RETRY_MAX_MS = 50;

/** A typed, validated, multi-process-safe view of one `state.json`. */
export class StateStore {
  /** absolute path of the state file */
  readonly path: string;
  readonly #low: Low<State>;
  readonly #onCorrupt: ((info: CorruptStateInfo) => void) | undefined;
  readonly #lockTimeoutMs: number;
  readonly #options: StateStoreOptions;
  #snapshot: ReadonlyState = deepFreeze(emptyState());
  /** Tail of the in-process transaction queue; never rejects. */
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  /** Set by proper-lockfile when the lock we hold was lost (e.g. the process froze past the stale time). */
  #lockLost: Error | undefined;

  private constructor(path: string, options: StateStoreOptions) {
    this.path = path;
    this.#low = new Low<State>(new StateFileAdapter(path, options.migrations), emptyState());
    this.#onCorrupt = options.onCorrupt;
    this.#lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
    this.#options = options;
  }

  /**
   * Opens the store and loads the file. A missing file gives an empty state (the file is created
   * by the first `update`); an unusable one is moved aside (see {@link StateStoreOptions.onCorrupt}).
   *
   * @param path the state file, normally `orchestraPaths(root).state`
   * @throws StateTooNewError (code INTERNAL) when a newer orchestra wrote the file; it is left alone
   * @throws OrchestraError STATE_CORRUPT when the file exists but cannot be read at all (permissions)
   * @throws OrchestraError STATE_LOCKED when the file must be moved aside but the lock is held too long
   */
  static async open(path: string, options: StateStoreOptions = {}): Promise<StateStore> {
    const store = new StateStore(path, options);
    await store.reload();
    return store;
  }

  /** The state as of the last `open`, `reload` or `update` of this store: frozen, never stale-mutated. */
  read(): ReadonlyState {
    return this.#snapshot;
  }

  /**
   * Re-reads the file (other processes may have changed it) and returns the new snapshot.
   * @throws as {@link StateStore.open}
   */
  reload(): Promise<ReadonlyState> {
    return this.#enqueue(async () => {
      try {
        return this.#setSnapshot(await this.#readFile());
      } catch (error) {
        if (!(error instanceof CorruptStateFileError)) throw error;
      }
      // Move the file aside only under the lock: another process may have replaced it with a good
      // one since we read it, and that one must not be quarantined.
      return this.#withLock(async () => this.#setSnapshot(await this.#readLocked()));
    });
  }

  /**
   * Runs one transaction: re-reads the file under the cross-process lock, calls `mutate` on a
   * mutable copy, validates the result and writes it atomically. Keep `mutate` short: the lock is
   * held while it runs. Nothing is written when `mutate` throws or the result is invalid.
   *
   * @returns what `mutate` returned
   * @throws whatever `mutate` throws
   * @throws OrchestraError INTERNAL when the mutated state does not match the schema (a bug in the
   *   caller); the file and the snapshot keep the state read at the start of the transaction
   * @throws OrchestraError STATE_LOCKED when another process held the lock longer than `lockTimeoutMs`
   * @throws StateTooNewError when a newer orchestra wrote the file meanwhile
   */
  update<T>(mutate: (draft: State) => T | Promise<T>): Promise<T> {
    return this.#enqueue(() =>
      // Tried again, outside the lock, while the disk is full, rather than failing what it records.
      waitingOutDiskFull(() => this.#transaction(mutate), {
        ...(this.#options.diskFullPatienceMs !== undefined
          ? { patienceMs: this.#options.diskFullPatienceMs }
          : {}),
        ...(this.#options.onDiskFull ? { onFirstWait: this.#options.onDiskFull } : {}),
      }),
    );
  }

  #transaction<T>(mutate: (draft: State) => T | Promise<T>): Promise<T> {
    return this.#withLock(async () => {
      const current = await this.#readLocked();
      this.#setSnapshot(current);
      const draft = structuredClone(current);
      const result = await mutate(draft);
      const checked = stateSchema.safeParse(draft);
      if (!checked.success) {
        throw new OrchestraError(
          'INTERNAL',
          `refused an invalid state update: ${summarizeIssues(checked.error)}`,
          {
            hint: 'this is a bug in orchestra; state.json was left unchanged',
          },
        );
      }
      if (this.#lockLost) {
        throw new OrchestraError('STATE_LOCKED', `lost the lock on ${this.path} during an update`, {
          hint: 'the process stalled for longer than the lock stale time (10 s); retry the command',
          cause: this.#lockLost,
        });
      }
      this.#low.data = checked.data;
      await this.#low.write();
      this.#setSnapshot(checked.data);
      return result;
    });
  }

  /** Waits for queued transactions to finish; later `update`/`reload` calls throw. `read` keeps working. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#queue;
  }

  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    if (this.#closed) {
      return Promise.reject(new OrchestraError('INTERNAL', `state store ${this.path} is closed`));
    }
    const run = this.#queue.then(task);
    // The queue only orders transactions; each caller gets its own error through `run`.
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #setSnapshot(state: State): ReadonlyState {
    this.#snapshot = deepFreeze(state);
    return this.#snapshot;
  }

  /** The file's state, or an empty one when it does not exist. Throws CorruptStateFileError. */
  async #readFile(): Promise<State> {
    this.#low.data = emptyState();
    // lowdb keeps `data` when the adapter returns null (missing file), so it stays empty then.
    await this.#low.read();
    return this.#low.data;
  }

  /** Like #readFile, but moves an unusable file aside; call only while holding the lock. */
  async #readLocked(): Promise<State> {
    try {
      return await this.#readFile();
    } catch (error) {
      if (!(error instanceof CorruptStateFileError)) throw error;
      const movedTo = await moveAside(this.path);
      this.#onCorrupt?.({ path: this.path, movedTo, reason: error.reason });
      return emptyState();
    }
  }

  async #withLock<T>(task: () => Promise<T>): Promise<T> {
    await mkdir(dirname(this.path), { recursive: true });
    this.#lockLost = undefined;
    const release = await this.#acquireLock();
    try {
      return await task();
    } finally {
      await release().catch(() => {
        // Nothing useful to do: either the lock was already lost (reported by update), or its
        // directory could not be removed and goes stale after LOCK_STALE_MS for others to take.
      });
    }
  }

  async #acquireLock(): Promise<() => Promise<void>> {
    const deadline = Date.now() + this.#lockTimeoutMs;
    let delay = LOCK_RETRY_MIN_MS;
    for (;;) {
      try {
        return await lock(this.path, {
          // The state file may not exist yet; lock its path as given.
          realpath: false,
          stale: LOCK_STALE_MS,
          onCompromised: (error) => {
            this.#lockLost = error;
          },
        });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
        if (Date.now() >= deadline) {
          throw new OrchestraError('STATE_LOCKED', `${this.path} is locked by another orchestra process`, {
            hint: `wait for it to finish; if no orchestra process is running, remove ${this.path}.lock`,
            cause: error,
          });
        }
        // Jitter so that two waiting processes do not retry in lockstep.
        await sleep(delay * (0.5 + Math.random()));
        delay = Math.min(delay * 2, LOCK_RETRY_MAX_MS);
      }
    }
  }
}

/**
 * Renames an unusable state file to `<path>.corrupt-<YYYYMMDDTHHmmssZ>`, adding `-2`, `-3`, ...
 * when that name is taken (two corruptions within a second). Call only while holding the lock.
 * @returns the new path
 */
async function moveAside(path: string): Promise<string> {
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  for (let n = 1; ; n++) {
    const target = n === 1 ? `${path}.corrupt-${stamp}` : `${path}.corrupt-${stamp}-${n}`;
    if (await exists(target)) continue;
    await rename(path, target);
    return target;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Freezes `value` and every object below it, so a snapshot cannot be changed behind the store's back. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
