import { readFileSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OrchestraError } from './errors.js';

/**
 * Where orchestra keeps its files inside a repository (DESIGN.md, "On disk"). All paths are
 * absolute; `root` is the repository's top-level directory.
 */
export interface OrchestraPaths {
  root: string;
  dir: string;
  config: string;
  gitignore: string;
  tasks: string;
  done: string;
  failed: string;
  rejected: string;
  state: string;
  runs: string;
  worktrees: string;
  logs: string;
  log: string;
  strategies: string;
}

let packageRootCache: string | undefined;

/**
 * The directory of orchestra's own package.json (it holds bin/, themes/, Dockerfile.worker and
 * dist-worker/): the nearest one above this module named `orchestra`. The module sits at
 * different depths under src/ (tsx) and in the bundled CLI (dist/bundle/), so the directory is
 * looked up rather than counted.
 *
 * @throws Error when no such package.json is above this module (a broken installation)
 */
export function packageRoot(): string {
  if (packageRootCache) return packageRootCache;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (manifest.name === 'orchestra') {
        packageRootCache = dir;
        return dir;
      }
    } catch {
      // No package.json here (or not JSON): look further up.
    }
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error(`orchestra's package.json is not above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/**
 * orchestra's own entry script (`bin/orchestra` of this installation), absolute: what a server is
 * started with, by a client in the background or by a systemd unit.
 */
export function orchestraEntry(): string {
  return join(packageRoot(), 'bin', 'orchestra');
}

/** The `.orchestra/` layout for the repository whose top level is `root`. */
export function orchestraPaths(root: string): OrchestraPaths {
  const dir = join(root, '.orchestra');
  return {
    root,
    dir,
    config: join(dir, 'orchestra.json'),
    gitignore: join(dir, '.gitignore'),
    tasks: join(dir, 'tasks'),
    done: join(dir, 'done'),
    failed: join(dir, 'failed'),
    rejected: join(dir, 'rejected'),
    state: join(dir, 'state.json'),
    runs: join(dir, 'runs'),
    worktrees: join(dir, 'worktrees'),
    logs: join(dir, 'logs'),
    log: join(dir, 'logs', 'orchestra.jsonl'),
    strategies: join(dir, 'strategies'),
  };
}

/** True when `child` is `parent` or lies below it (both absolute, already normalised). */
export function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/** realpath of the longest existing prefix of `path`, with the missing rest appended. */
function realpathOfExistingPrefix(path: string): string {
  let head = path;
  const tail: string[] = [];
  for (;;) {
    try {
      return join(realpathSync(head), ...tail.reverse());
    } catch {
      const parent = resolve(head, '..');
      if (parent === head) return path;
      tail.push(head.slice(parent.length + (parent.endsWith(sep) ? 0 : 1)));
      head = parent;
    }
  }
}

/**
 * Resolves a path that came from a task file or the config and confines it to the repository
 * (DESIGN.md, "Security"): absolute paths, `..` escapes and symlinks that lead outside are refused.
 * The path need not exist; the longest existing prefix is resolved through symlinks.
 *
 * @param root repository top level (absolute)
 * @param path the untrusted path, relative to `root`
 * @returns the absolute, resolved path inside `root`
 * @throws OrchestraError PATH_ESCAPE when the path leaves the repository
 */
export function confinePath(root: string, path: string): string {
  if (isAbsolute(path)) {
    throw new OrchestraError('PATH_ESCAPE', `path "${path}" is absolute`, {
      hint: 'use a path relative to the repository root',
    });
  }
  const realRoot = realpathOfExistingPrefix(resolve(root));
  const lexical = resolve(realRoot, path);
  if (!isInside(realRoot, lexical)) {
    throw new OrchestraError('PATH_ESCAPE', `path "${path}" is outside the repository`, {
      hint: 'paths in task files and config must stay inside the repository',
    });
  }
  const real = realpathOfExistingPrefix(lexical);
  if (!isInside(realRoot, real)) {
    throw new OrchestraError('PATH_ESCAPE', `path "${path}" leads outside the repository through a symlink`, {
      hint: 'paths in task files and config must stay inside the repository',
    });
  }
  return real;
}
