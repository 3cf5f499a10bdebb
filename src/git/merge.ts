import { randomBytes } from 'node:crypto';
import { mkdir, realpath, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SimpleGit } from 'simple-git';
import { errorMessage, OrchestraError } from '../common/errors.js';
import { parseAttemptId } from '../common/ids.js';
import { orchestraPaths } from '../common/paths.js';
import { FALLBACK_IDENTITY } from './attempt-changes.js';
import { assertNotOption, git, gitFailed } from './run-git.js';
import { runSetup, type SetupStep } from './run-setup.js';
import { listWorktrees, removeWorktree } from './worktree.js';

/**
 * Landing a finished result on the base branch (DESIGN.md, "Attempt lifecycle": work must pass the
 * repository's own checks before it is kept). The result branch is merged into the base's tip in a
 * throw-away worktree, the checks run on that merge commit — the code that would land, not the
 * attempt's own tree, which may predate other merges — and only then does the base branch move,
 * with a compare-and-swap so a commit made meanwhile is never overwritten. Every expected refusal
 * comes back as data ({@link MergeOutcome}); only git itself failing throws.
 */

/** Why a merge was refused. */
export type MergeRefusal =
  /** Merging the result into the base's tip conflicts; `files` names the conflicting paths. */
  | 'conflict'
  /** A setup or check command failed on the merge commit; `checkOutput` has the tail. */
  | 'checks-failed'
  /** The base branch moved between the start of the merge and the moment it would have landed. */
  | 'base-moved'
  /** The result's changes are already on the base branch (or it has none). */
  | 'nothing-to-merge'
  /** The worktree where the base branch is checked out has uncommitted changes to files the merge changes. */
  | 'dirty-worktree';

/** The outcome of {@link mergeResult}. */
export type MergeOutcome =
  | {
      merged: true;
      /** The merge commit the base branch now points at. */
      commit: string;
      /** `$ <command>` and the output tail of each check command, in order ('' with no checks). */
      checkOutput: string;
    }
  | {
      merged: false;
      reason: MergeRefusal;
      /** One line for people, naming the files or the failing command. */
      detail: string;
      /** The conflicting files (`conflict`) or the changed files in the way (`dirty-worktree`). */
      files?: string[];
      /** Setup and check output, when they ran (`checks-failed`). */
      checkOutput?: string;
    };

/** Options of {@link mergeResult}. */
export interface MergeOptions {
  /** Repository top level. */
  root: string;
  /** Local branch the result lands on, e.g. `main` (`baseBranch` in .orchestra/orchestra.json). */
  baseBranch: string;
  /** Local branch holding the result, e.g. `orchestra/task-03/a2`. */
  resultBranch: string;
  /** Check commands (`check` in the config) run with `sh -c` on the merge commit; all must exit 0. */
  checks: string[];
  /** Setup commands (`setup` in the config), e.g. `npm ci`, run before the checks. */
  setup?: string[];
  /** The merge commit's message; name the task, e.g. `orchestra: task-03 (attempt 2)`. */
  message: string;
  /** Variables added to (undefined: removed from) `process.env` for setup and check commands. */
  env?: Record<string, string | undefined>;
  /** Live setup and check output (`$ <command>` lines, then stdout and stderr). */
  onOutput?: (chunk: string) => void;
  /** Budget for the setup commands together, and again for the checks, ms (default: runSetup's 10 min). */
  timeoutMs?: number;
}

/** Folder-name prefix of merge worktrees under `.orchestra/worktrees/`. */
export const MERGE_WORKTREE_PREFIX = 'merge-';

/** How many file names a refusal's `detail` lists before `and N more`. */
const DETAIL_FILES = 10;

/**
 * Merges `resultBranch` into `baseBranch` once the checks pass on the merged code.
 *
 * 1. Refuses with `nothing-to-merge` when the result is already contained in the base.
 * 2. Adds a worktree detached at the base's tip under `.orchestra/worktrees/merge-<id>` and runs
 *    `git merge --no-ff -m <message> <result>` there (`conflict` when it does not merge cleanly;
 *    `nothing-to-merge` when the merge changes no file).
 * 3. Runs `setup`, then `checks` in it (`checks-failed`).
 * 4. Moves the base branch to the merge commit, only if it still points where it did in step 1
 *    (`base-moved` otherwise). Where the base branch is checked out (usually the main worktree),
 *    that checkout is fast-forwarded (`git merge --ff-only`) so its files match the branch; it is
 *    refused (`dirty-worktree`) when it has uncommitted changes, untracked files included, to files
 *    the merge changes. Elsewhere the ref moves with `git update-ref <ref> <new> <old>`, which is
 *    atomic.
 *
 * The temporary worktree is always removed. The base branch and its checkout are touched only in
 * step 4, so every refusal leaves them exactly as they were.
 *
 * Hooks: the merge commit skips pre-merge-commit and commit-msg hooks (`--no-verify`, as attempt
 * commits do) because the checks are the gate; signing is off because nobody is there to unlock a
 * key. A post-merge hook does run in the checkout that is fast-forwarded, as it would on `git pull`.
 *
 * @throws OrchestraError BASE_BRANCH_MISSING when `baseBranch` is not a local branch with a commit
 * @throws OrchestraError GIT_FAILED when `resultBranch` does not exist, or git fails unexpectedly
 * @throws OrchestraError NOT_A_REPO when `root` does not exist
 */
export async function mergeResult(options: MergeOptions): Promise<MergeOutcome> {
  const { baseBranch, resultBranch } = options;
  assertNotOption(baseBranch, 'base branch');
  assertNotOption(resultBranch, 'result branch');
  const root = await repoRealpath(options.root);
  const repo = git(root);

  const oldBase = await branchTip(repo, baseBranch);
  if (oldBase === undefined) {
    throw new OrchestraError('BASE_BRANCH_MISSING', `base branch "${baseBranch}" does not exist`, {
      hint: 'set "baseBranch" in .orchestra/orchestra.json to an existing local branch',
    });
  }
  const result = await branchTip(repo, resultBranch);
  if (result === undefined) {
    throw new OrchestraError('GIT_FAILED', `result branch "${resultBranch}" does not exist`, {
      hint: 'the attempt branch may have been deleted; see `git branch --list "orchestra/*"`',
    });
  }
  if (await isAncestor(repo, result, oldBase)) {
    return {
      merged: false,
      reason: 'nothing-to-merge',
      detail: `${resultBranch} is already merged into ${baseBranch}`,
    };
  }

  const worktrees = orchestraPaths(root).worktrees;
  const path = join(worktrees, mergeWorktreeName());
  await mkdir(worktrees, { recursive: true });
  await ignoreFolder(worktrees);
  try {
    await repo.raw(['worktree', 'add', '--detach', '--quiet', path, oldBase]);
  } catch (error) {
    throw gitFailed('worktree add', error);
  }
  try {
    const merged = await mergeInWorktree(path, result, options.message);
    if ('conflicts' in merged) {
      return {
        merged: false,
        reason: 'conflict',
        detail: `merging ${resultBranch} into ${baseBranch} conflicts in ${listFiles(merged.conflicts)}`,
        files: merged.conflicts,
      };
    }
    const commit = merged.commit;
    const touched = await changedFiles(repo, oldBase, commit);
    if (touched.length === 0) {
      return {
        merged: false,
        reason: 'nothing-to-merge',
        detail: `${resultBranch} changes nothing that is not already on ${baseBranch}`,
      };
    }

    const runOptions = {
      ...(options.env ? { env: options.env } : {}),
      ...(options.onOutput ? { onOutput: options.onOutput } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    };
    const setup = await runSetup(path, options.setup ?? [], runOptions);
    if (!setup.ok) {
      const failed = setup.steps.at(-1);
      return {
        merged: false,
        reason: 'checks-failed',
        detail: `setup command ${failed ? describeFailure(failed) : 'failed'} on the merged result`,
        checkOutput: formatSteps(setup.steps),
      };
    }
    const checks = await runSetup(path, options.checks, runOptions);
    const checkOutput = formatSteps(checks.steps);
    if (!checks.ok) {
      const failed = checks.steps.at(-1);
      return {
        merged: false,
        reason: 'checks-failed',
        detail: `check ${failed ? describeFailure(failed) : 'failed'} on the merged result`,
        checkOutput,
      };
    }

    const landed = await land(root, baseBranch, oldBase, commit, touched, `orchestra: merge ${resultBranch}`);
    if (landed !== undefined) return { merged: false, ...landed };
    return { merged: true, commit, checkOutput };
  } finally {
    await dropWorktree(root, path);
  }
}

/** A worktree folder name that is never shaped like an attempt id, so `gcWorktrees` leaves it alone. */
function mergeWorktreeName(): string {
  for (;;) {
    const name = `${MERGE_WORKTREE_PREFIX}${randomBytes(5).toString('hex')}`;
    if (!parseAttemptId(name)) return name;
  }
}

/** The commit sha of local branch `name`, or undefined when there is none. */
async function branchTip(repo: SimpleGit, name: string): Promise<string | undefined> {
  try {
    // --quiet: a missing ref exits 1 with no output, which simple-git hands back as "".
    const sha = (await repo.raw(['rev-parse', '--verify', '--quiet', `refs/heads/${name}^{commit}`])).trim();
    return sha === '' ? undefined : sha;
  } catch (error) {
    throw gitFailed('rev-parse', error);
  }
}

/** True when commit `ancestor` is reachable from `descendant` (or is it). */
async function isAncestor(repo: SimpleGit, ancestor: string, descendant: string): Promise<boolean> {
  try {
    // `merge-base --is-ancestor` answers only in its exit code, which simple-git does not surface.
    return (await repo.raw(['merge-base', ancestor, descendant])).trim() === ancestor;
  } catch (error) {
    throw gitFailed('merge-base', error);
  }
}

/**
 * `git merge --no-ff` of `result` into the worktree's detached HEAD. On a conflict the merge is
 * aborted (the worktree is thrown away anyway; aborting keeps `worktree remove` simple).
 */
async function mergeInWorktree(
  worktree: string,
  result: string,
  message: string,
): Promise<{ commit: string } | { conflicts: string[] }> {
  const plain = git(worktree);
  const before = (await plain.raw(['rev-parse', 'HEAD'])).trim();
  // rerere could replay a recorded resolution and leave the merge uncommitted but conflict-free;
  // a result that conflicts must be reported as conflicting, whatever was resolved before.
  const config = ['rerere.enabled=false'];
  if (!(await configValue(plain, 'user.name'))) config.push(`user.name=${FALLBACK_IDENTITY.name}`);
  if (!(await configValue(plain, 'user.email'))) config.push(`user.email=${FALLBACK_IDENTITY.email}`);
  const repo = git(worktree, { config });
  let failure: unknown;
  try {
    await repo.raw(['merge', '--no-ff', '--no-edit', '--no-verify', '--no-gpg-sign', '-m', message, result]);
  } catch (error) {
    // A conflict exits 1 and simple-git rejects only when stderr has text, which depends on the
    // kind of conflict; the index below says what happened either way.
    failure = error;
  }
  const conflicts = await unmergedFiles(repo);
  if (conflicts.length > 0) {
    try {
      await repo.raw(['merge', '--abort']);
    } catch {
      // The worktree is removed with --force next; a failed abort leaves nothing behind.
    }
    return { conflicts };
  }
  const after = (await repo.raw(['rev-parse', 'HEAD'])).trim();
  if (failure !== undefined || after === before) {
    throw gitFailed('merge', failure ?? new Error('no merge commit was made'));
  }
  return { commit: after };
}

/** Paths with unmerged index entries, each once, sorted. */
async function unmergedFiles(repo: SimpleGit): Promise<string[]> {
  try {
    const out = await repo.raw(['diff', '--name-only', '-z', '--diff-filter=U']);
    return [...new Set(out.split('\0').filter((p) => p !== ''))].sort();
  } catch (error) {
    throw gitFailed('diff', error);
  }
}

/** Files that differ between two commits; a rename counts as both its paths. */
async function changedFiles(repo: SimpleGit, from: string, to: string): Promise<string[]> {
  try {
    const out = await repo.raw(['diff', '--name-only', '-z', '--no-renames', '--no-ext-diff', from, to]);
    return out.split('\0').filter((p) => p !== '');
  } catch (error) {
    throw gitFailed('diff', error);
  }
}

/** A config value as git resolves it, or '' when unset. */
async function configValue(repo: SimpleGit, key: string): Promise<string> {
  try {
    return (await repo.raw(['config', '--get', key])).trim();
  } catch {
    // An unreadable config makes the merge itself fail with git's own message; treat as unset here.
    return '';
  }
}

/**
 * Step 4 of {@link mergeResult}: moves `base` from `oldBase` to `commit`.
 *
 * @param touched files that differ between `oldBase` and `commit`
 * @param reflogMessage recorded in the branch's reflog when it moves by `update-ref`
 * @returns undefined when it landed, else the refusal
 */
async function land(
  root: string,
  base: string,
  oldBase: string,
  commit: string,
  touched: string[],
  reflogMessage: string,
): Promise<{ reason: MergeRefusal; detail: string; files?: string[] } | undefined> {
  const repo = git(root);
  const moved = async () => {
    const now = await branchTip(repo, base);
    return now === oldBase
      ? undefined
      : {
          reason: 'base-moved' as const,
          detail: `${base} moved to ${now?.slice(0, 12) ?? 'nothing'} while the checks ran (it was ${oldBase.slice(0, 12)}); run the merge again`,
        };
  };
  const early = await moved();
  if (early) return early;

  const checkout = (await listWorktrees(root)).find((w) => w.branch === base && !w.prunable);
  if (checkout === undefined) {
    try {
      await repo.raw(['update-ref', '-m', reflogMessage, `refs/heads/${base}`, commit, oldBase]);
    } catch (error) {
      // update-ref refuses when the ref is no longer at oldBase: someone committed meanwhile.
      const late = await moved();
      if (late) return late;
      throw gitFailed('update-ref', error);
    }
    return undefined;
  }

  const blocking = overlap(await dirtyFiles(checkout.path), touched);
  if (blocking.length > 0) {
    return {
      reason: 'dirty-worktree',
      detail: `${checkout.path} has ${base} checked out with uncommitted changes to ${listFiles(blocking)}, which the merge changes; commit or stash them and merge again`,
      files: blocking,
    };
  }
  // `merge --ff-only` moves the branch with HEAD's sha as the expected old value, so a commit made
  // after it read HEAD makes it fail rather than be lost. The window between `moved()` above and
  // that read is left open: there a reset of the base to an older commit would be fast-forwarded.
  let failure: unknown;
  try {
    await git(checkout.path).raw(['merge', '--ff-only', '--quiet', commit]);
  } catch (error) {
    failure = error;
  }
  const now = await branchTip(repo, base);
  if (now === commit) return undefined;
  const late = await moved();
  if (late) return late;
  if (
    failure !== undefined &&
    /would be overwritten|untracked working tree files/i.test(errorMessage(failure))
  ) {
    // Changed between our status check and git's: the same refusal, in git's words.
    return {
      reason: 'dirty-worktree',
      detail: `${checkout.path} has uncommitted changes in the way of the merge; commit or stash them and merge again`,
    };
  }
  throw gitFailed('merge --ff-only', failure ?? new Error(`${base} did not move to the merge commit`));
}

/** Paths with staged, unstaged or untracked (non-ignored) changes in `worktree`; both sides of a rename. */
async function dirtyFiles(worktree: string): Promise<string[]> {
  let out: string;
  try {
    out = await git(worktree).raw(['status', '--porcelain=v1', '-z', '--untracked-files=all']);
  } catch (error) {
    throw gitFailed('status', error);
  }
  const paths: string[] = [];
  const fields = out.split('\0');
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!;
    if (field.length < 4) continue;
    paths.push(field.slice(3));
    // "R  new\0old\0": a rename or copy carries its source path as the next field.
    if (/[RC]/.test(field.slice(0, 2))) {
      const source = fields[i + 1];
      if (source) paths.push(source);
      i += 1;
    }
  }
  return paths;
}

/** The dirty paths that the merge touches, counting a file in the way of a directory (and back). */
function overlap(dirty: string[], touched: string[]): string[] {
  const touchedSet = new Set(touched);
  const hit = dirty.filter(
    (d) =>
      touchedSet.has(d) ||
      touched.some((t) => t.startsWith(`${d.replace(/\/$/, '')}/`) || d.startsWith(`${t}/`)),
  );
  return [...new Set(hit)].sort();
}

/** `a, b and 3 more`. */
function listFiles(files: string[]): string {
  const shown = files.slice(0, DETAIL_FILES).join(', ');
  return files.length > DETAIL_FILES ? `${shown} and ${files.length - DETAIL_FILES} more` : shown;
}

/** `"npm test" (exit 1)`, `"npm ci" (timed out)`. */
function describeFailure(step: SetupStep): string {
  const how = step.timedOut
    ? 'timed out'
    : step.exitCode !== null
      ? `exit ${step.exitCode}`
      : step.signal
        ? `killed by ${step.signal}`
        : 'could not start';
  return `"${step.command}" failed (${how})`;
}

/** Each step as `$ <command>` and its output tail. */
function formatSteps(steps: SetupStep[]): string {
  return steps
    .map((step) => {
      const tail =
        step.outputTail.endsWith('\n') || step.outputTail === '' ? step.outputTail : `${step.outputTail}\n`;
      return `$ ${step.command}\n${tail}`;
    })
    .join('');
}

/** Removes the merge worktree; never throws, because it runs in a `finally` that may carry the real error. */
async function dropWorktree(root: string, path: string): Promise<void> {
  try {
    await removeWorktree(root, path, { force: true });
  } catch {
    // git refused (e.g. a check left a locked file): delete the folder, then let git forget it.
    await rm(path, { recursive: true, force: true }).catch(() => {});
    await removeWorktree(root, path, { force: true }).catch(() => {});
  }
}

/** Writes `<dir>/.gitignore` ignoring everything, unless one is there (as `createWorktree` does). */
async function ignoreFolder(dir: string): Promise<void> {
  try {
    await writeFile(join(dir, '.gitignore'), '*\n', { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
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
