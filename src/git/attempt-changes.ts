import { copyFile, mkdtemp, rm, stat, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { SimpleGit } from 'simple-git';
import { OrchestraError } from '../common/errors.js';
import { assertNotOption, git, gitFailed } from './run-git.js';

/**
 * What an attempt changed in its worktree, and recording it as a commit on the attempt's branch.
 *
 * Diffs cover committed and uncommitted work, new untracked files included, against the attempt's
 * base. To see untracked files without touching the worktree's real index (the agent may be running
 * git in it at the same time, and `git add -N` there would race it for `index.lock` and change what
 * it sees), we copy the index to a temporary file, `git add -A` into the copy through
 * `GIT_INDEX_FILE`, and diff the copy against the base (`git diff --cached <base>`). Ignored files
 * are not part of an attempt's changes. The only trace left is unreferenced blobs in the object
 * store, which `git gc` collects.
 */

/** Author and committer used when the repository has no `user.name` / `user.email`. */
export const FALLBACK_IDENTITY = { name: 'orchestra', email: 'orchestra@localhost' } as const;

/** Default cap of {@link diffText}: about 25k tokens, what a reviewer model reads comfortably. */
export const DIFF_TEXT_MAX_BYTES = 100_000;

/** Flags for every diff we read: plain text whatever the user's config says about color or diff tools. */
const DIFF_FLAGS = ['--no-color', '--no-ext-diff', '--find-renames'];

/** Size of an attempt's change against its base. */
export interface DiffStat {
  /** Files added, changed, deleted or renamed (a rename counts once). */
  files: number;
  /** Lines added; binary files count 0. */
  insertions: number;
  /** Lines removed; binary files count 0. */
  deletions: number;
  /** `git diff --stat` output, for people. */
  text: string;
}

/** A diff as text, cut to a byte budget. */
export interface DiffText {
  /** The unified diff, at most `maxBytes` UTF-8 bytes, cut at a line end when possible. */
  text: string;
  truncated: boolean;
  /** Size of the whole diff in bytes, before cutting. */
  totalBytes: number;
}

/**
 * Records everything in the worktree (`git add -A`, ignored files excepted) as one commit on its
 * branch. Callers should name the task in `message` (e.g. `orchestra: task-03 attempt 1`) so the
 * branch's history says where it came from.
 *
 * When `user.name` or `user.email` is not configured, the missing one is supplied as
 * {@link FALLBACK_IDENTITY} with `git -c`, never written to any config. Hooks are skipped
 * (`--no-verify`) because the repository's checks run as their own step and a failing hook must not
 * lose the attempt's work; signing is off (`--no-gpg-sign`) because nobody is there to unlock a key.
 *
 * @returns the new commit's sha, or undefined when there was nothing to commit
 * @throws OrchestraError GIT_FAILED
 */
export async function commitAttempt(worktree: string, message: string): Promise<string | undefined> {
  const repo = git(worktree);
  try {
    await repo.raw(['add', '-A']);
    // Comparing trees is exact and cheap: no file list to read back.
    const staged = (await repo.raw(['write-tree'])).trim();
    const head = (await repo.raw(['rev-parse', '--verify', '--quiet', 'HEAD^{tree}'])).trim();
    if (staged === head) return undefined;
  } catch (error) {
    throw gitFailed('add', error);
  }
  const config: string[] = [];
  if (!(await configValue(repo, 'user.name'))) config.push(`user.name=${FALLBACK_IDENTITY.name}`);
  if (!(await configValue(repo, 'user.email'))) config.push(`user.email=${FALLBACK_IDENTITY.email}`);
  try {
    const committer = git(worktree, { config });
    await committer.raw(['commit', '--quiet', '--no-verify', '--no-gpg-sign', '-m', message]);
    return (await committer.raw(['rev-parse', 'HEAD'])).trim();
  } catch (error) {
    throw gitFailed('commit', error);
  }
}

/** A config value as git resolves it for this repository, or '' when unset. */
async function configValue(repo: SimpleGit, key: string): Promise<string> {
  try {
    // An unset key exits 1 with no output, which simple-git hands back as "".
    return (await repo.raw(['config', '--get', key])).trim();
  } catch {
    // An unreadable config makes the commit itself fail with git's own message; treat as unset here.
    return '';
  }
}

/**
 * Counts what the attempt changed against `baseRef` (usually the base sha from `createWorktree`):
 * committed and uncommitted work, new untracked files included.
 *
 * @throws OrchestraError GIT_FAILED when `baseRef` names no commit
 */
export async function diffStat(worktree: string, baseRef: string): Promise<DiffStat> {
  return withWorkingIndex(worktree, baseRef, async (repo, base) => {
    const numstat = await repo.raw(['diff', '--cached', '--numstat', ...DIFF_FLAGS, base]);
    const text = await repo.raw(['diff', '--cached', '--stat', ...DIFF_FLAGS, base]);
    let files = 0;
    let insertions = 0;
    let deletions = 0;
    for (const line of numstat.split('\n')) {
      // "<added>\t<removed>\t<path>"; binary files show "-\t-".
      const match = /^(\d+|-)\t(\d+|-)\t/.exec(line);
      if (!match) continue;
      files += 1;
      insertions += match[1] === '-' ? 0 : Number(match[1]);
      deletions += match[2] === '-' ? 0 : Number(match[2]);
    }
    return { files, insertions, deletions, text };
  });
}

/**
 * The attempt's change against `baseRef` as a unified diff (same scope as {@link diffStat}), cut
 * to `maxBytes` (default {@link DIFF_TEXT_MAX_BYTES}). The whole diff is read into memory first.
 *
 * @throws OrchestraError GIT_FAILED when `baseRef` names no commit
 */
export async function diffText(
  worktree: string,
  baseRef: string,
  options: { maxBytes?: number } = {},
): Promise<DiffText> {
  const maxBytes = Math.max(0, options.maxBytes ?? DIFF_TEXT_MAX_BYTES);
  const full = await withWorkingIndex(worktree, baseRef, (repo, base) =>
    repo.raw(['diff', '--cached', ...DIFF_FLAGS, base]),
  );
  const bytes = Buffer.from(full, 'utf8');
  if (bytes.length <= maxBytes) return { text: full, truncated: false, totalBytes: bytes.length };
  return { text: cutUtf8(bytes, maxBytes), truncated: true, totalBytes: bytes.length };
}

/** The first `maxBytes` of `bytes` as text, ending at a line end if there is one, never mid-character. */
function cutUtf8(bytes: Buffer, maxBytes: number): string {
  const head = bytes.subarray(0, maxBytes);
  const newline = head.lastIndexOf(0x0a);
  if (newline >= 0) return head.subarray(0, newline + 1).toString('utf8');
  let end = maxBytes;
  // Back off continuation bytes (10xxxxxx) and the lead byte of the character they belong to.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, end).toString('utf8');
}

/**
 * True when the worktree's content (committed, uncommitted and untracked, ignored files excepted)
 * differs from `baseRef`. An attempt whose agent changed nothing is not a success. Work that was
 * made and then undone counts as no change.
 *
 * @throws OrchestraError GIT_FAILED when `baseRef` names no commit
 */
export async function hasChanges(worktree: string, baseRef: string): Promise<boolean> {
  return withWorkingIndex(worktree, baseRef, async (repo, base) => {
    const tree = (await repo.raw(['write-tree'])).trim();
    const baseTree = (await repo.raw(['rev-parse', '--verify', `${base}^{tree}`])).trim();
    return tree !== baseTree;
  });
}

/**
 * Copies an index file keeping its mtime (made 1 ms older). Git's racy-clean check trusts an
 * entry's cached stat data only for files older than the index file itself; a copy with a fresh
 * mtime would make a same-size edit in the same second as checkout look unchanged. An older mtime
 * only makes git re-read more files.
 */
async function copyIndex(from: string, to: string): Promise<void> {
  try {
    const { mtimeMs } = await stat(from);
    await copyFile(from, to);
    const seconds = (mtimeMs - 1) / 1000;
    await utimes(to, seconds, seconds);
  } catch (error) {
    // No index yet: `git add -A` builds one from scratch, only slower.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/**
 * Runs `fn` with a git whose index is a temporary copy of the worktree's, brought up to date with
 * the working tree (`git add -A`), and with `baseRef` resolved to a commit sha.
 */
async function withWorkingIndex<T>(
  worktree: string,
  baseRef: string,
  fn: (repo: SimpleGit, base: string) => Promise<T>,
): Promise<T> {
  assertNotOption(baseRef, 'base ref');
  const plain = git(worktree);
  let base: string;
  let realIndex: string;
  try {
    base = (await plain.raw(['rev-parse', '--verify', '--quiet', `${baseRef}^{commit}`])).trim();
    realIndex = resolve(worktree, (await plain.raw(['rev-parse', '--git-path', 'index'])).trim());
  } catch (error) {
    throw gitFailed('rev-parse', error);
  }
  if (base === '') {
    throw new OrchestraError('GIT_FAILED', `base "${baseRef}" does not name a commit`, {
      hint: "pass the attempt's base commit, as returned when its worktree was created",
    });
  }
  const dir = await mkdtemp(join(tmpdir(), 'orchestra-index-'));
  const index = join(dir, 'index');
  try {
    await copyIndex(realIndex, index);
    const repo = git(worktree, { env: { GIT_INDEX_FILE: index } });
    try {
      await repo.raw(['add', '-A']);
      return await fn(repo, base);
    } catch (error) {
      throw gitFailed('diff', error);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
