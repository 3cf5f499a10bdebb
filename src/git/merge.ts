import { realpath } from 'node:fs/promises';
import type { SimpleGit } from 'simple-git';
import { errorMessage, OrchestraError } from '../common/errors.js';
import { hostIdentity } from './attempt-repo.js';
import { assertNotOption, git, gitExec, gitFailed } from './run-git.js';
import { listWorktrees } from './worktree.js';

/**
 * Landing a finished result on the base branch (DESIGN.md, "Attempt lifecycle": work must pass the
 * repository's own checks before it is kept). The host computes the merge of the result into the
 * base's tip itself, without a working tree (`git merge-tree --write-tree`, then `commit-tree`), so
 * no file of the result is checked out and no hook or driver runs on the host; the merge gate —
 * the checks, run on that merge commit in a worker without secrets (the caller's {@link MergeGate})
 * — sees the code that would land, not the attempt's own tree, which may predate other merges. Only
 * then does the base branch move, to that very commit, with a compare-and-swap so a commit made
 * meanwhile is never overwritten: nothing the gate's worker does can change what lands. Every
 * expected refusal comes back as data ({@link MergeOutcome}); only git itself failing throws.
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
  | 'dirty-worktree'
  /** The result changes orchestra's own folder (config, strategies, tasks), which runs on the host. */
  | 'protected-path';

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

/** What the merge gate came to. */
export interface GateResult {
  ok: boolean;
  /** One line for people when it failed: which command, and how. */
  detail?: string;
  /** `$ <command>` and the output of each setup and check command, in order. */
  output: string;
}

/**
 * Runs the setup and check commands on `commit` (the merge commit, which exists in the host
 * repository) in a worker, and says whether they all passed. Supplied by the scheduler, which
 * knows where workers run (scheduler/merge-gate.ts).
 */
export type MergeGate = (commit: string) => Promise<GateResult>;

/** Options of {@link mergeResult}. */
export interface MergeOptions {
  /** Repository top level. */
  root: string;
  /** Local branch the result lands on, e.g. `main` (`baseBranch` in .orchestra/orchestra.json). */
  baseBranch: string;
  /** Local branch holding the result, e.g. `orchestra/task-03/a2`. */
  resultBranch: string;
  /** The merge commit's message; name the task, e.g. `orchestra: task-03 (attempt 2)`. */
  message: string;
  /** The checks on the merge commit; the base branch moves only when it passes. */
  gate: MergeGate;
}

/** How many file names a refusal's `detail` lists before `and N more`. */
const DETAIL_FILES = 10;

/**
 * Merges `resultBranch` into `baseBranch` once the merge gate passes on the merged code.
 *
 * 1. Refuses with `nothing-to-merge` when the result is already contained in the base.
 * 2. Computes the merge of the base's tip and the result (`git merge-tree --write-tree`; `conflict`
 *    when it does not merge cleanly) and makes the merge commit (`commit-tree`, first parent the
 *    base's tip); `nothing-to-merge` when it changes no file.
 * 3. Runs the gate on that commit (`checks-failed`).
 * 4. Moves the base branch to the merge commit, only if it still points where it did in step 1
 *    (`base-moved` otherwise). Where the base branch is checked out (usually the main worktree),
 *    that checkout is fast-forwarded (`git merge --ff-only`) so its files match the branch; it is
 *    refused (`dirty-worktree`) when it has uncommitted changes, untracked files included, to files
 *    the merge changes. Elsewhere the ref moves with `git update-ref <ref> <new> <old>`, which is
 *    atomic.
 *
 * The base branch and its checkout are touched only in step 4, so every refusal leaves them exactly
 * as they were. No hook runs (the runner's hardened config), not even post-merge in the checkout
 * that is fast-forwarded; the user's own filter drivers do, as on `git pull`.
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

  const merged = await mergeCommit(root, oldBase, result, options.message);
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

  // `.orchestra/` holds what the server runs on the host (strategies, config, tasks): a result
  // that changes it is never landed by a merge, whatever its checks say.
  const protectedPaths = touched.filter((p) => p === '.orchestra' || p.startsWith('.orchestra/'));
  if (protectedPaths.length > 0) {
    return {
      merged: false,
      reason: 'protected-path',
      detail: `${resultBranch} changes orchestra's own files (${listFiles(protectedPaths)}); merge it by hand after reading it`,
      files: protectedPaths,
    };
  }

  const gate = await options.gate(commit);
  if (!gate.ok) {
    return {
      merged: false,
      reason: 'checks-failed',
      detail: `${gate.detail ?? 'the checks failed'} on the merged result`,
      checkOutput: gate.output,
    };
  }

  const landed = await land(root, baseBranch, oldBase, commit, touched, `orchestra: merge ${resultBranch}`);
  if (landed !== undefined) return { merged: false, ...landed };
  return { merged: true, commit, checkOutput: gate.output };
}

/**
 * The merge of `result` into `base` as a commit object, made without a working tree: the tree
 * from `git merge-tree --write-tree` (exit 1 and the conflicted paths on a conflict), the commit
 * from `commit-tree` with the host's identity.
 */
async function mergeCommit(
  root: string,
  base: string,
  result: string,
  message: string,
): Promise<{ commit: string } | { conflicts: string[] }> {
  const tree = await gitExec(
    root,
    ['merge-tree', '--write-tree', '--name-only', '--no-messages', base, result],
    { okCodes: [0, 1] },
  );
  // Output: the tree's sha, then (on a conflict) one conflicted path a line.
  const [sha = '', ...paths] = tree.stdout.split('\n');
  if (tree.code === 1) return { conflicts: [...new Set(paths.filter((p) => p !== ''))].sort() };
  const identity = await hostIdentity(root);
  const made = await gitExec(root, ['commit-tree', sha.trim(), '-p', base, '-p', result, '-m', message], {
    env: {
      GIT_AUTHOR_NAME: identity.name,
      GIT_AUTHOR_EMAIL: identity.email,
      GIT_COMMITTER_NAME: identity.name,
      GIT_COMMITTER_EMAIL: identity.email,
    },
  });
  return { commit: made.stdout.trim() };
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
 * Files that differ between two commits of the repository at `root`, `/`-separated and relative to
 * it; a rename counts as both its paths.
 *
 * @throws OrchestraError GIT_FAILED when git fails (an unknown commit)
 */
export function changedPaths(root: string, from: string, to: string): Promise<string[]> {
  return changedFiles(git(root), from, to);
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

/** The outcome of {@link revertTipMerge}. */
export type RevertOutcome =
  | { reverted: true /** The revert commit the base branch now points at. */; commit: string }
  | { reverted: false; reason: 'not-tip' | MergeRefusal; detail: string };

/**
 * Undoes merge commit `merge` while it is still the tip of `baseBranch` (autonomy's "a merged
 * change whose checks fail on the base branch afterwards is reverted"): a new commit on top of it
 * whose tree is its first parent's, so the base returns to the files it had before the merge and
 * the history keeps both. Made without a working tree (`commit-tree`), landed as a merge is (the
 * checkout fast-forwarded, or `update-ref` with a compare-and-swap). A base that moved past the
 * merge is left alone (`not-tip`): a revert onto other work needs a person.
 *
 * @throws OrchestraError BASE_BRANCH_MISSING or GIT_FAILED as {@link mergeResult} does
 */
export async function revertTipMerge(options: {
  root: string;
  baseBranch: string;
  merge: string;
  message: string;
}): Promise<RevertOutcome> {
  const { baseBranch, merge } = options;
  assertNotOption(baseBranch, 'base branch');
  const root = await repoRealpath(options.root);
  const repo = git(root);
  const tip = await branchTip(repo, baseBranch);
  if (tip === undefined) {
    throw new OrchestraError('BASE_BRANCH_MISSING', `base branch "${baseBranch}" does not exist`, {
      hint: 'set "baseBranch" in .orchestra/orchestra.json to an existing local branch',
    });
  }
  if (tip !== merge) {
    return {
      reverted: false,
      reason: 'not-tip',
      detail: `${baseBranch} moved past ${merge.slice(0, 12)}; revert it by hand (git revert -m 1 ${merge.slice(0, 12)})`,
    };
  }
  let tree: string;
  try {
    tree = (await repo.raw(['rev-parse', '--verify', `${merge}^1^{tree}`])).trim();
  } catch (error) {
    throw gitFailed('rev-parse', error);
  }
  const identity = await hostIdentity(root);
  const made = await gitExec(root, ['commit-tree', tree, '-p', tip, '-m', options.message], {
    env: {
      GIT_AUTHOR_NAME: identity.name,
      GIT_AUTHOR_EMAIL: identity.email,
      GIT_COMMITTER_NAME: identity.name,
      GIT_COMMITTER_EMAIL: identity.email,
    },
  });
  const commit = made.stdout.trim();
  const touched = await changedFiles(repo, tip, commit);
  const landed = await land(
    root,
    baseBranch,
    tip,
    commit,
    touched,
    `orchestra: revert ${merge.slice(0, 12)}`,
  );
  if (landed !== undefined) return { reverted: false, reason: landed.reason, detail: landed.detail };
  return { reverted: true, commit };
}
