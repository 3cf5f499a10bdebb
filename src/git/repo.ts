import { realpath } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { errorMessage, OrchestraError } from '../common/errors.js';
import { assertNotOption, git, gitFailed } from './run-git.js';

/**
 * Questions about the repository orchestra runs in: where its top level is, which branch is
 * checked out, whether a branch exists, what a ref points at, whether the tree is clean.
 */

/**
 * The top-level directory of the git working tree containing `cwd`, with symlinks resolved (so it
 * compares equal to paths git prints). Inside a linked worktree this is that worktree's top level.
 *
 * @throws OrchestraError NOT_A_REPO when `cwd` is not inside a working tree (or does not exist)
 * @throws OrchestraError GIT_FAILED when git is missing or refuses the repository (e.g. dubious ownership)
 */
export async function findRepoRoot(cwd: string): Promise<string> {
  const notARepo = (cause?: unknown) =>
    new OrchestraError('NOT_A_REPO', 'not inside a git repository', {
      hint: 'run `git init` first, or cd into your repository',
      cause,
    });
  let dir: string;
  try {
    dir = await realpath(cwd);
  } catch (error) {
    throw notARepo(error);
  }
  let top: string;
  try {
    top = (await git(dir).raw(['rev-parse', '--show-toplevel'])).trim();
  } catch (error) {
    const message = errorMessage(error);
    // "must be run in a work tree": inside a bare repository or a .git directory.
    if (/not a git repository|must be run in a work tree/i.test(message)) throw notARepo(error);
    if (/dubious ownership/i.test(message)) {
      throw gitFailed('rev-parse', error, `if you trust it: git config --global --add safe.directory ${dir}`);
    }
    throw gitFailed('rev-parse', error);
  }
  if (top === '') throw notARepo();
  return realpath(top);
}

/**
 * The installed git's version, e.g. `2.39.5` (from `git --version`), or undefined when git cannot
 * be run at all.
 */
export async function gitVersion(): Promise<string | undefined> {
  try {
    const out = await git(tmpdir()).raw(['--version']);
    return /git version (\S+)/.exec(out)?.[1];
  } catch {
    // Any failure to run `git --version` means there is no usable git; callers report that.
    return undefined;
  }
}

/**
 * The short name of the branch checked out at `root` (e.g. `main`), or undefined when HEAD is
 * detached. An unborn branch (no commit yet) still has its name.
 *
 * @throws OrchestraError GIT_FAILED
 */
export async function currentBranch(root: string): Promise<string | undefined> {
  try {
    // --quiet: a detached HEAD exits 1 with no output instead of an error.
    const out = (await git(root).raw(['symbolic-ref', '--quiet', '--short', 'HEAD'])).trim();
    return out === '' ? undefined : out;
  } catch (error) {
    throw gitFailed('symbolic-ref', error);
  }
}

/**
 * True when the local branch `name` (without `refs/heads/`) exists and points at a commit.
 *
 * @throws OrchestraError GIT_FAILED
 */
export async function branchExists(root: string, name: string): Promise<boolean> {
  if (name === '' || name.startsWith('-')) return false;
  try {
    // --quiet: a missing ref exits 1 with no output, which simple-git hands back as "".
    const out = await git(root).raw(['rev-parse', '--verify', '--quiet', `refs/heads/${name}^{commit}`]);
    return out.trim() !== '';
  } catch (error) {
    throw gitFailed('rev-parse', error);
  }
}

/**
 * The full commit sha (40 hex digits, or 64 in a SHA-256 repository) that `ref` points at.
 *
 * @throws OrchestraError GIT_FAILED when `ref` names no commit (e.g. HEAD of an empty repository)
 */
export async function headCommit(root: string, ref = 'HEAD'): Promise<string> {
  assertNotOption(ref, 'ref');
  let sha: string;
  try {
    sha = (await git(root).raw(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`])).trim();
  } catch (error) {
    throw gitFailed('rev-parse', error);
  }
  if (sha === '') {
    throw new OrchestraError('GIT_FAILED', `"${ref}" does not name a commit`, {
      hint: ref === 'HEAD' ? 'make a first commit in the repository' : 'check the branch or commit name',
    });
  }
  return sha;
}

/**
 * True when the working tree at `root` has no staged, unstaged or untracked (non-ignored) changes,
 * i.e. `git status --porcelain` prints nothing.
 *
 * @throws OrchestraError GIT_FAILED
 */
export async function isClean(root: string): Promise<boolean> {
  try {
    return (await git(root).raw(['status', '--porcelain'])).trim() === '';
  } catch (error) {
    throw gitFailed('status', error);
  }
}

/**
 * True when `ref` names a commit: false for HEAD in a repository with no commits yet.
 *
 * @throws OrchestraError GIT_FAILED
 */
export async function hasCommit(root: string, ref = 'HEAD'): Promise<boolean> {
  assertNotOption(ref, 'ref');
  try {
    return (await git(root).raw(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`])).trim() !== '';
  } catch (error) {
    throw gitFailed('rev-parse', error);
  }
}

/**
 * The paths `git status` reports at `root`: staged, unstaged and untracked (not ignored) files,
 * relative to the top level, each once (a rename gives its new path).
 *
 * @throws OrchestraError GIT_FAILED
 */
export async function uncommittedPaths(root: string): Promise<string[]> {
  let out: string;
  try {
    out = await git(root).raw(['status', '--porcelain', '-z', '--untracked-files=all']);
  } catch (error) {
    throw gitFailed('status', error);
  }
  const fields = out.split('\0');
  const paths: string[] = [];
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!;
    if (field.length < 4) continue;
    paths.push(field.slice(3));
    // A rename or copy is followed by its original path, in a field of its own.
    if (/[RC]/.test(field.slice(0, 2))) i++;
  }
  return paths;
}

/**
 * True when the commit `ref` points at holds `path` (relative to the top level), i.e. a checkout
 * of that commit would have it.
 *
 * @throws OrchestraError GIT_FAILED
 */
export async function commitHasPath(root: string, ref: string, path: string): Promise<boolean> {
  assertNotOption(ref, 'ref');
  try {
    return (await git(root).raw(['rev-parse', '--verify', '--quiet', `${ref}:${path}`])).trim() !== '';
  } catch (error) {
    throw gitFailed('rev-parse', error);
  }
}
