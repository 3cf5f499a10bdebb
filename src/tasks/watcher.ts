import { mkdirSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { type FSWatcher, watch } from 'chokidar';
import type { OrchestraPaths } from '../common/paths.js';
import { compareTaskIds } from './naming.js';
import { loadOrReject, markdownFiles, type Rejection } from './queue.js';
import type { TaskFile } from './task-file.js';

/**
 * Watches the queue folder (`.orchestra/tasks/`) and reports tasks as they come, change and go
 * (DESIGN.md: the server owns "the chokidar queue watcher").
 *
 * Every file event is settled by reading the file once it has been still for a while, then
 * comparing with what was last reported: a new valid file is `added`, a valid file with other
 * content `changed`, a file that is gone or was rejected `removed` (when it had been reported),
 * and a file that cannot be used is moved to `rejected/` and reported as `rejected`.
 */

/** Removes the listener it was returned for. */
export type Disposer = () => void;

/** A running queue watcher. Register listeners in the same tick as `watchQueue` to miss nothing. */
export interface QueueWatcher {
  /**
   * A valid task appeared. Files already in the queue when the watcher starts are reported as
   * added too, in natural order, before `ready()` resolves.
   */
  onAdded(listener: (task: TaskFile) => void): Disposer;
  /** A reported task's file now has other content (still valid). */
  onChanged(listener: (task: TaskFile) => void): Disposer;
  /** A reported task's file is gone from the queue (deleted, archived, or rejected after an edit). */
  onRemoved(listener: (id: string) => void): Disposer;
  /** A file could not be used and was moved to `rejected/`; the watcher carries on. */
  onRejected(listener: (rejection: Rejection) => void): Disposer;
  /** A watcher or file-system error, or a listener that threw; the watcher carries on (with no error listener, errors are dropped). */
  onError(listener: (error: unknown) => void): Disposer;
  /** The valid tasks reported so far and not removed, by file name in natural order. */
  tasks(): TaskFile[];
  /** Resolves once the folder is watched and the files present at start have been reported. */
  ready(): Promise<void>;
  /** Stops watching; no event is reported after it resolves. */
  close(): Promise<void>;
}

/** Options of {@link watchQueue}; times in ms. */
export interface WatchQueueOptions {
  /**
   * Quiet time per file before it is read: events within it restart the wait, so a file written
   * in several chunks is read once, complete. Default 200.
   */
  debounceMs?: number;
  /** chokidar's awaitWriteFinish threshold: the size must hold this long. Default `debounceMs`. */
  stabilityMs?: number;
}

/** Default quiet time: longer than an editor's save (write, fsync, rename), short enough to feel immediate. */
const DEFAULT_DEBOUNCE_MS = 200;

/** How often chokidar re-checks a file's size while it waits for writes to finish. */
const POLL_INTERVAL_MS = 50;

/**
 * Starts watching `paths.tasks` (created when missing) for `*.md` files, not recursing. The files
 * already there are read once chokidar is ready and reported as `added` (or `rejected`) in natural
 * order, so a server needs no separate `readQueue` at start.
 *
 * @returns the watcher; call `close()` when done
 */
export function watchQueue(paths: OrchestraPaths, opts: WatchQueueOptions = {}): QueueWatcher {
  const debounceMs = opts.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  const stabilityMs = opts.stabilityMs ?? debounceMs;
  const dir = resolve(paths.tasks);
  mkdirSync(dir, { recursive: true });

  const listeners = {
    added: new Set<(task: TaskFile) => void>(),
    changed: new Set<(task: TaskFile) => void>(),
    removed: new Set<(id: string) => void>(),
    rejected: new Set<(rejection: Rejection) => void>(),
    error: new Set<(error: unknown) => void>(),
  };
  /** Tasks reported and not removed, by absolute file path. */
  const known = new Map<string, TaskFile>();
  const timers = new Map<string, NodeJS.Timeout>();
  /** Per file, the settling in progress, so one file is never read by two settlings at once. */
  const chains = new Map<string, Promise<void>>();
  let closed = false;

  const emitError = (error: unknown) => {
    for (const listener of listeners.error) {
      try {
        listener(error);
      } catch {
        // An error listener that throws has nowhere left to report to; the watcher must go on.
      }
    }
  };
  const emit = <T>(set: Set<(value: T) => void>, value: T) => {
    for (const listener of set) {
      try {
        listener(value);
      } catch (error) {
        emitError(error);
      }
    }
  };
  const subscribe =
    <T>(set: Set<(value: T) => void>) =>
    (listener: (value: T) => void): Disposer => {
      set.add(listener);
      return () => set.delete(listener);
    };

  /** Reads `file` and reports the difference from what was reported before. */
  const settle = async (file: string): Promise<void> => {
    if (closed) return;
    const outcome = await loadOrReject(paths, file);
    if (closed) return;
    const previous = known.get(file);
    if (outcome !== undefined && 'task' in outcome) {
      known.set(file, outcome.task);
      if (previous === undefined) emit(listeners.added, outcome.task);
      else if (previous.raw !== outcome.task.raw) emit(listeners.changed, outcome.task);
      return;
    }
    if (previous !== undefined) {
      known.delete(file);
      emit(listeners.removed, previous.id);
    }
    if (outcome !== undefined) emit(listeners.rejected, outcome.rejection);
  };

  const enqueue = (file: string): Promise<void> => {
    const chain = (chains.get(file) ?? Promise.resolve()).then(() => settle(file)).catch(emitError);
    chains.set(file, chain);
    void chain.then(() => {
      if (chains.get(file) === chain) chains.delete(file);
    });
    return chain;
  };

  const schedule = (file: string) => {
    if (closed) return;
    clearTimeout(timers.get(file));
    timers.set(
      file,
      setTimeout(() => {
        timers.delete(file);
        void enqueue(file);
      }, debounceMs),
    );
  };

  const watcher: FSWatcher = watch(dir, {
    depth: 0,
    ignoreInitial: true,
    followSymlinks: false,
    awaitWriteFinish: {
      stabilityThreshold: stabilityMs,
      pollInterval: Math.min(POLL_INTERVAL_MS, stabilityMs),
    },
    // chokidar 4 has no globs: everything but the folder itself and its `*.md` files is ignored,
    // including dotfiles (editor locks, orchestra's own temporary files) and subfolders.
    ignored: (path, stats) => {
      if (resolve(path) === dir) return false;
      const name = basename(path);
      return !name.endsWith('.md') || name.startsWith('.') || stats?.isDirectory() === true;
    },
  });
  watcher.on('add', (path) => schedule(resolve(path)));
  watcher.on('change', (path) => schedule(resolve(path)));
  watcher.on('unlink', (path) => schedule(resolve(path)));
  watcher.on('error', emitError);

  /** Reports the files present at start, in natural order; ones still being written wait for quiet. */
  const initialScan = async () => {
    for (const name of await markdownFiles(dir)) {
      if (closed) return;
      const file = join(dir, name);
      const stat = await lstat(file).catch(() => undefined);
      if (stat === undefined) continue;
      if (Date.now() - stat.mtimeMs < stabilityMs) schedule(file);
      else await enqueue(file);
    }
  };

  let resolveReady!: () => void;
  const readyPromise = new Promise<void>((res) => {
    resolveReady = res;
  });
  watcher.once('ready', () => {
    initialScan().then(resolveReady, (error: unknown) => {
      emitError(error);
      resolveReady();
    });
  });

  return {
    onAdded: subscribe(listeners.added),
    onChanged: subscribe(listeners.changed),
    onRemoved: subscribe(listeners.removed),
    onRejected: subscribe(listeners.rejected),
    onError: subscribe(listeners.error),
    tasks: () => [...known.values()].sort((a, b) => compareTaskIds(a.id, b.id)),
    ready: () => readyPromise,
    async close() {
      if (closed) return;
      closed = true;
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      await watcher.close();
      await Promise.allSettled([...chains.values()]);
      resolveReady();
    },
  };
}
