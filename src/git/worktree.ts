import { execFile } from 'node:child_process';
import { lstat, mkdir, readdir, realpath, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { errorMessage, OrchestraError } from '../common/errors.js';
import { attemptBranch, attemptId, parseAttemptId } from '../common/ids.js';
import { orchestraPaths } from '../common/paths.js';
import { seedAttemptRepo } from './attempt-repo.js';
import { branchExists } from './repo.js';
import { assertNotOption, git, gitFailed } from './run-git.js';

export type { DiffStat, DiffText } from './attempt-repo.js';
export { diffStat, diffText, importBundle, sameTree } from './attempt-repo.js';
export type { SetupOptions, SetupResult, SetupStep } from './run-setup.js';
export { runSetup } from './run-setup.js';

/**
 * One working folder per attempt (DESIGN.md, "On disk"): attempt `task-03-a1` works in
 * `.orchestra/worktrees/task-03-a1`, a repository of its own on branch `orchestra/task-03/a1` cut
 * from the configured base branch (see attempt-repo.ts for why it is not a linked worktree of the
 * host's: a worker must never write the host's `.git`). The host repository gets a branch of the
 * same name at the base commit, which only the attempt's imported work ever moves. This module
 * creates and removes them, and lists and removes linked worktrees (the user's, and attempt
 * worktrees of older orchestra versions).
 */

/** A freshly created attempt folder. */
export interface WorktreeInfo {
  attemptId: string;
  /** Absolute path, `<root>/.orchestra/worktrees/<attemptId>`. */
  path: string;
  /** `orchestra/<taskId>/a<n>`. */
  branch: string;
  /** The commit sha the branch starts from; diff against this, not the base branch, which moves on. */
  base: string;
}

/** One entry of `git worktree list --porcelain`. */
export interface WorktreeEntry {
  path: string;
  /** Short branch name; undefined when detached (or bare). */
  branch?: string;
  /** Commit sha checked out; '' for a bare repository. */
  head: string;
  /** Set when the worktree is an attempt's, i.e. sits directly in `.orchestra/worktrees/`. */
  attemptId?: string;
  /** Its directory is gone; `git worktree prune` will forget it. */
  prunable?: boolean;
  /** Locked with `git worktree lock`; `remove --force` refuses it. */
  locked?: boolean;
}

/** Characters allowed in an attempt id, which becomes a directory name: no separators, no `..`. */
const SAFE_ATTEMPT_ID = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/** How many branches the "base branch missing" hint names. */
const HINT_BRANCHES = 5;

/**
 * Creates attempt `n` of `taskId`: branch `<branch>` at the base sha in the host repository
 * (created atomically: it must not exist), and the attempt's own repository at `<path>` with that
 * sha checked out ({@link seedAttemptRepo}). The base sha is what `baseBranch` points at now
 * (resolved first, so the recorded base is exactly what was checked out). Also makes sure the
 * worktrees folder is ignored by the main repository even before `orchestra init` has written
 * `.orchestra/.gitignore` (a `.gitignore` of `*` inside it), so the main repository's `git status`
 * stays clean.
 *
 * @param root repository top level
 * @param n attempt number, 1-based
 * @param baseBranch a local branch name, e.g. `main` (from `baseBranch` in .orchestra/orchestra.json)
 * @throws OrchestraError BASE_BRANCH_MISSING when `baseBranch` is not a local branch with a commit
 * @throws OrchestraError WORKTREE_EXISTS when the attempt's folder or branch already exists
 * @throws OrchestraError TASK_INVALID when the task id cannot be a folder name
 * @throws OrchestraError GIT_FAILED for other git failures
 */
export async function createWorktree(options: {
  root: string;
  taskId: string;
  n: number;
  baseBranch: string;
}): Promise<WorktreeInfo> {
  const { taskId, n, baseBranch } = options;
  const id = attemptId(taskId, n);
  if (!Number.isInteger(n) || n < 1 || !SAFE_ATTEMPT_ID.test(id)) {
    throw new OrchestraError('TASK_INVALID', `cannot make a worktree for task "${taskId}" attempt ${n}`, {
      hint: 'task ids may use letters, digits, ".", "_" and "-"; attempts count from 1',
    });
  }
  const root = await repoRealpath(options.root);
  const branch = attemptBranch(taskId, n);
  const worktrees = orchestraPaths(root).worktrees;
  const path = join(worktrees, id);

  const base = await resolveBaseBranch(root, baseBranch);
  if (await exists(path)) {
    throw new OrchestraError('WORKTREE_EXISTS', `attempt ${id} already has a worktree at ${path}`, {
      hint: 'run `orchestra gc` to remove worktrees of finished attempts',
    });
  }
  if (await branchExists(root, branch)) {
    throw new OrchestraError('WORKTREE_EXISTS', `branch ${branch} of attempt ${id} already exists`, {
      hint: `\`orchestra gc\` keeps branches: delete it with \`git branch -D ${branch}\` if its work is not needed`,
    });
  }

  await mkdir(worktrees, { recursive: true });
  await ignoreFolder(worktrees);
  try {
    // An empty old value: update-ref creates the branch only if it does not exist yet.
    await git(root).raw(['update-ref', `refs/heads/${branch}`, base, '']);
  } catch (error) {
    // Another process may have created the same attempt between our checks and git's.
    if (/already exists|reference already|cannot lock ref/i.test(errorMessage(error))) {
      throw new OrchestraError('WORKTREE_EXISTS', `attempt ${id} already exists`, {
        hint: 'run `orchestra gc` to remove worktrees of finished attempts',
        cause: error,
      });
    }
    throw gitFailed('update-ref', error);
  }
  try {
    await seedAttemptRepo({ root, dir: path, branch, base, checkout: true });
  } catch (error) {
    await rm(path, { recursive: true, force: true });
    await git(root)
      .raw(['update-ref', '-d', `refs/heads/${branch}`, base])
      .catch(() => {});
    throw error;
  }
  return { attemptId: id, path, branch, base };
}

/** The commit sha of local branch `name`, or BASE_BRANCH_MISSING naming the branches there are. */
async function resolveBaseBranch(root: string, name: string): Promise<string> {
  const repo = git(root);
  let sha = '';
  let branches: string[];
  try {
    if (name !== '' && !name.startsWith('-')) {
      sha = (await repo.raw(['rev-parse', '--verify', '--quiet', `refs/heads/${name}^{commit}`])).trim();
    }
    if (sha !== '') return sha;
    const refs = await repo.raw(['for-each-ref', '--format=%(refname:short)', 'refs/heads/']);
    branches = refs.split('\n').filter((b) => b !== '');
  } catch (error) {
    throw gitFailed('rev-parse', error);
  }
  // Attempt branches are noise here: the user wants the branch they work on.
  const own = branches.filter((b) => !b.startsWith('orchestra/'));
  const candidates = own.length > 0 ? own : branches;
  const shown = candidates.slice(0, HINT_BRANCHES);
  const more = candidates.length > shown.length ? ', ...' : '';
  const hint =
    shown.length === 0
      ? 'the repository has no commits yet: commit something first, then check "baseBranch" in .orchestra/orchestra.json'
      : `set "baseBranch" in .orchestra/orchestra.json to an existing branch: ${shown.join(', ')}${more}`;
  throw new OrchestraError('BASE_BRANCH_MISSING', `base branch "${name}" does not exist`, { hint });
}

/** Writes `<dir>/.gitignore` ignoring everything, itself included, unless one is there already. */
async function ignoreFolder(dir: string): Promise<void> {
  try {
    await writeFile(join(dir, '.gitignore'), '*\n', { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}

/**
 * Every worktree of the repository at `root`, main one first, from `git worktree list --porcelain`.
 * Attempt worktrees carry their `attemptId`.
 *
 * @throws OrchestraError GIT_FAILED
 */
export async function listWorktrees(root: string): Promise<WorktreeEntry[]> {
  let out: string;
  try {
    out = await git(root).raw(['worktree', 'list', '--porcelain']);
  } catch (error) {
    throw gitFailed('worktree list', error);
  }
  const attemptsDir = await realpathOrSelf(orchestraPaths(await realpathOrSelf(root)).worktrees);
  const entries: WorktreeEntry[] = [];
  // Records are separated by a blank line; each line is "<label>[ <value>]".
  for (const record of out.split('\n\n')) {
    let entry: WorktreeEntry | undefined;
    for (const line of record.split('\n')) {
      const space = line.indexOf(' ');
      const label = space < 0 ? line : line.slice(0, space);
      const value = space < 0 ? '' : line.slice(space + 1);
      if (label === 'worktree') entry = { path: value, head: '' };
      else if (!entry) continue;
      else if (label === 'HEAD') entry.head = value;
      else if (label === 'branch') entry.branch = value.replace(/^refs\/heads\//, '');
      else if (label === 'prunable') entry.prunable = true;
      else if (label === 'locked') entry.locked = true;
    }
    if (!entry) continue;
    const real = await realpathOrSelf(entry.path);
    const name = basename(real);
    if (dirname(real) === attemptsDir && parseAttemptId(name)) entry.attemptId = name;
    entries.push(entry);
  }
  return entries;
}

/**
 * Removes the worktree at `path` (`git worktree remove`): its folder and git's record of it. Its
 * branch stays. A worktree whose folder is already gone is just forgotten; a path that is neither
 * a folder nor a registered worktree is a no-op, so removing twice is fine.
 *
 * @param options.force also remove a worktree with uncommitted or untracked changes (they are lost)
 * @throws OrchestraError GIT_FAILED when git refuses, e.g. changes present without `force`, or locked
 */
export async function removeWorktree(
  root: string,
  path: string,
  options: { force?: boolean } = {},
): Promise<void> {
  try {
    await git(root).raw(['worktree', 'remove', ...(options.force ? ['--force'] : []), resolve(path)]);
  } catch (error) {
    const message = errorMessage(error);
    if (/is not a working tree/i.test(message) && !(await exists(path))) return;
    const dirty = /modified or untracked files/i.test(message);
    throw gitFailed(
      'worktree remove',
      error,
      dirty ? 'commit or discard the changes first, or remove it with force' : undefined,
    );
  }
}

/**
 * Makes git forget worktrees whose folders no longer exist (`git worktree prune`).
 *
 * @throws OrchestraError GIT_FAILED
 */
export async function pruneWorktrees(root: string): Promise<void> {
  try {
    await git(root).raw(['worktree', 'prune']);
  } catch (error) {
    throw gitFailed('worktree prune', error);
  }
}

/** The outcome of {@link gcWorktrees}. */
export interface GcResult {
  /** Attempt ids whose worktrees were removed. */
  removed: string[];
  /** Attempt worktrees that could not be removed (e.g. locked), with git's reason. */
  failed: { attemptId: string; reason: string }[];
}

/**
 * Removes attempt worktrees under `.orchestra/worktrees/` whose attempt `keep` does not keep:
 * registered ones with `git worktree remove --force` (uncommitted work in them is lost; one whose
 * folder is already gone is just forgotten), and leftover folders git no longer knows with a
 * recursive delete. Branches are always kept, so committed attempt work survives; delete them with
 * {@link deleteBranch}. Nothing outside `.orchestra/worktrees/` is touched: no global
 * `git worktree prune`, which would also forget the user's own worktrees on unmounted drives. One
 * failure (e.g. a locked worktree) does not stop the rest.
 *
 * @param keep called with each attempt id found; true keeps that worktree
 */
export async function gcWorktrees(root: string, keep: (attemptId: string) => boolean): Promise<GcResult> {
  const realRoot = await repoRealpath(root);
  const result: GcResult = { removed: [], failed: [] };
  const registered = new Set<string>();
  for (const entry of await listWorktrees(realRoot)) {
    if (!entry.attemptId) continue;
    registered.add(entry.attemptId);
    if (keep(entry.attemptId)) continue;
    try {
      await removeWorktree(realRoot, entry.path, { force: true });
      result.removed.push(entry.attemptId);
    } catch (error) {
      result.failed.push({ attemptId: entry.attemptId, reason: errorMessage(error) });
    }
  }
  const worktrees = orchestraPaths(realRoot).worktrees;
  let names: string[];
  try {
    names = await readdir(worktrees);
  } catch {
    // No worktrees folder: nothing was ever created here.
    names = [];
  }
  for (const name of names) {
    if (registered.has(name) || !parseAttemptId(name) || keep(name)) continue;
    const path = join(worktrees, name);
    try {
      // lstat: anything but a real folder (a planted symlink, say) is left alone, never followed.
      if (!(await lstat(path)).isDirectory()) continue;
      await removeTree(path);
      result.removed.push(name);
    } catch (error) {
      result.failed.push({ attemptId: name, reason: errorMessage(error) });
    }
  }
  return result;
}

/**
 * Deletes local branch `branch` (`git branch -d`, or `-D` with `force`).
 *
 * @param options.force delete even when its commits are not merged into the current branch
 * @throws OrchestraError GIT_FAILED when git refuses (unmerged without force, checked out in a worktree)
 */
export async function deleteBranch(
  root: string,
  branch: string,
  options: { force?: boolean } = {},
): Promise<void> {
  assertNotOption(branch, 'branch name');
  try {
    await git(root).raw(['branch', options.force ? '-D' : '-d', branch]);
  } catch (error) {
    const message = errorMessage(error);
    let hint: string | undefined;
    if (/not fully merged/i.test(message)) hint = 'delete it with force if its commits are not needed';
    else if (/checked out at|used by worktree/i.test(message))
      hint = 'remove its worktree first (`orchestra gc`)';
    throw gitFailed('branch delete', error, hint);
  }
}

/**
 * Deletes the folder `path` with GNU `rm -rf --one-file-system`, which walks with directory handles
 * and never follows a symlink, even one swapped in while it runs (an agent still running in the
 * folder); Node's recursive `rm` looks paths up again and can be led outside.
 *
 * @throws Error when rm fails
 */
async function removeTree(path: string): Promise<void> {
  await new Promise<void>((done, fail) => {
    execFile('rm', ['-rf', '--one-file-system', '--', path], (error) => (error ? fail(error) : done()));
  });
}

/** True when anything, even a dangling symlink, is at `path`. */
async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** realpath of a repository root; NOT_A_REPO when it does not exist. */
async function repoRealpath(root: string): Promise<string> {
  try {
    return await realpath(root);
  } catch (error) {
    throw new OrchestraError('NOT_A_REPO', `repository folder ${root} does not exist`, {
      hint: 'cd into your repository and try again',
      cause: error,
    });
  }
}

async function realpathOrSelf(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    // A pruned worktree's folder is gone; its recorded path is the best we have.
    return resolve(path);
  }
}
