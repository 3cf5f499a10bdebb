import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { OrchestraError } from '../common/errors.js';
import { assertNotOption, gitExec, gitReason } from './run-git.js';

/**
 * The host's side of moving code to and from a worker (DESIGN.md, "Workers": code moves in and
 * out through git, never through a shared `.git`).
 *
 * In: an attempt gets a repository of its own, not a linked worktree of the host's. It is made by
 * the host before any worker touches it: `git init`, the host's object store as a read-only
 * alternate (so nothing is copied), and one branch at the base commit. From then on the folder
 * belongs to the worker — its `.git/config`, hooks and refs included — and the host never runs git
 * in it again.
 *
 * Out: the worker writes a bundle of its work (`export-script.ts`) to its standard output; the
 * host fetches that bundle into its own repository onto the attempt's branch, and only there,
 * after checking that the result descends from the attempt's base. Diffs of an attempt are then
 * taken between two commits in the host repository, never in the worker's folder.
 */

/** The one ref a worker's bundle carries (see `export-script.ts`). */
export const EXPORT_REF = 'refs/orchestra/export';

/** Largest bundle taken from a worker, bytes: a result bigger than this is a runaway, not a change. */
export const MAX_BUNDLE_BYTES = 256 * 1024 * 1024;

/** Flags for every diff read here: plain text, no external diff or textconv program (config-driven). */
const DIFF_FLAGS = ['--no-color', '--no-ext-diff', '--no-textconv', '--find-renames'];

/**
 * The host repository's object directory, absolute: what attempt repositories borrow objects from,
 * and what a container mounts read-only.
 *
 * @throws OrchestraError GIT_FAILED
 */
export async function hostObjectsDir(root: string): Promise<string> {
  const { stdout } = await gitExec(root, ['rev-parse', '--git-common-dir']);
  const common = stdout.trim();
  return join(isAbsolute(common) ? common : resolve(root, common), 'objects');
}

/** Options of {@link seedAttemptRepo}. */
export interface SeedOptions {
  /** Host repository top level. */
  root: string;
  /** The new repository's folder; must not exist yet. */
  dir: string;
  /** Branch the new repository starts on, e.g. `orchestra/task-03/a1`. */
  branch: string;
  /** Commit sha it starts from; must exist in the host repository. */
  base: string;
  /**
   * Check the base out into the folder (the attempt's own base, which is the host's code). Off for
   * a commit whose files a worker wrote (the merge gate): the worker checks it out itself, so no
   * filter or other config-driven program runs on the host over a worker's files.
   */
  checkout: boolean;
}

/**
 * Makes a worker's own repository at `dir` holding `base` on `branch` (see the module comment),
 * with the host's `user.name` and `user.email` in its config so the agent's commits carry them.
 * No templates are copied (`--template=`), so the user's template hooks do not travel either.
 *
 * @throws OrchestraError GIT_FAILED
 */
export async function seedAttemptRepo(options: SeedOptions): Promise<void> {
  assertNotOption(options.branch, 'branch name');
  assertNotOption(options.base, 'base commit');
  const objects = await hostObjectsDir(options.root);
  await mkdir(options.dir, { recursive: true });
  await gitExec(options.dir, ['init', '--quiet', '--template=', `--initial-branch=${options.branch}`]);
  await mkdir(join(options.dir, '.git', 'objects', 'info'), { recursive: true });
  await writeFile(join(options.dir, '.git', 'objects', 'info', 'alternates'), `${objects}\n`);
  await gitExec(options.dir, ['update-ref', `refs/heads/${options.branch}`, options.base]);
  // The agent commits as the host's user would: a container has no ~/.gitconfig of theirs.
  const identity = await hostIdentity(options.root);
  await gitExec(options.dir, ['config', 'user.name', identity.name]);
  await gitExec(options.dir, ['config', 'user.email', identity.email]);
  if (options.checkout) await gitExec(options.dir, ['reset', '--quiet', '--hard']);
}

/** What {@link importBundle} brought back. */
export interface ImportedWork {
  /** The commit the attempt's branch now points at; equals the base when the worker changed nothing. */
  commit: string;
  /** False when the commit's tree is the base's: the worker changed nothing that counts. */
  changed: boolean;
}

/**
 * Takes a worker's bundle (the bytes its export wrote; empty: nothing to export) into the host
 * repository onto `branch`, and nothing else: the bundle's objects are fetched (fsck'd) under a
 * private ref, the result must descend from `base`, then `branch` is set to it. A worker can make
 * no other ref move, whatever its bundle says.
 *
 * @param options.attemptId names the private ref while the import is checked
 * @throws OrchestraError EXPORT_FAILED when the bundle is too big, not a bundle of one export ref,
 *   does not fetch, or its result does not descend from `base`; the branch is then left alone
 */
export async function importBundle(options: {
  root: string;
  bundle: Buffer;
  branch: string;
  base: string;
  attemptId: string;
}): Promise<ImportedWork> {
  const { root, branch, base } = options;
  assertNotOption(branch, 'branch name');
  if (options.bundle.length === 0) {
    await gitExec(root, ['update-ref', `refs/heads/${branch}`, base]);
    return { commit: base, changed: false };
  }
  if (options.bundle.length > MAX_BUNDLE_BYTES) {
    throw exportFailed(`its bundle is ${options.bundle.length} bytes, over ${MAX_BUNDLE_BYTES}`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'orchestra-bundle-'));
  const file = join(dir, 'attempt.bundle');
  const incoming = `refs/orchestra/incoming/${options.attemptId}`;
  try {
    await writeFile(file, options.bundle, { mode: 0o600 });
    const heads = await gitExec(root, ['bundle', 'list-heads', file], { okCodes: [0, 1, 128] });
    const refs = heads.stdout
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => line.split(' '));
    const exported = refs.length === 1 && refs[0]?.[1] === EXPORT_REF ? refs[0][0] : undefined;
    if (heads.code !== 0 || exported === undefined || !/^[0-9a-f]{40,64}$/.test(exported)) {
      throw exportFailed(`what it sent is not a bundle of ${EXPORT_REF} alone`);
    }
    // git 2.39 does not fsck what it fetches from a bundle; it does over a transport. So the bundle
    // is unpacked into a scratch repository first (borrowing the host's objects) and fetched from
    // there over file://, where fetch.fsckObjects applies.
    const scratch = join(dir, 'scratch.git');
    await gitExec(dir, ['init', '--quiet', '--bare', '--template=', scratch]);
    await writeFile(join(scratch, 'objects', 'info', 'alternates'), `${await hostObjectsDir(root)}\n`);
    const fetchArgs = (from: string, refspec: string) => [
      '-c',
      'gc.auto=0',
      '-c',
      'maintenance.auto=false',
      'fetch',
      '--quiet',
      '--no-tags',
      '--no-write-fetch-head',
      '--no-recurse-submodules',
      from,
      refspec,
    ];
    const unpacked = await gitExec(scratch, fetchArgs(file, `+${EXPORT_REF}:${EXPORT_REF}`), {
      okCodes: [0, 1, 128],
    });
    const fetched =
      unpacked.code !== 0
        ? unpacked
        : await gitExec(root, fetchArgs(`file://${scratch}`, `+${EXPORT_REF}:${incoming}`), {
            okCodes: [0, 1, 128],
          });
    if (fetched.code !== 0) throw exportFailed(`its bundle does not fetch: ${gitReason(fetched.stderr)}`);
    const ancestry = await gitExec(root, ['merge-base', '--is-ancestor', base, exported], {
      okCodes: [0, 1, 128],
    });
    if (ancestry.code !== 0) {
      throw exportFailed(
        `its result ${exported.slice(0, 12)} does not descend from the base ${base.slice(0, 12)}`,
      );
    }
    await gitExec(root, ['update-ref', `refs/heads/${branch}`, exported]);
    return { commit: exported, changed: !(await sameTree(root, base, exported)) };
  } finally {
    await gitExec(root, ['update-ref', '-d', incoming], { okCodes: [0, 1, 128] }).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

function exportFailed(why: string): OrchestraError {
  return new OrchestraError('EXPORT_FAILED', `the attempt's work could not be taken back: ${why}`, {
    hint: "the worker's repository in .orchestra/worktrees/ is left as it was; do not run git in it (its config is the agent's): copy it out with `git clone --no-local <folder> /tmp/x`",
  });
}

/**
 * True when commits `a` and `b` have the same tree (same files, modes and contents).
 *
 * @throws OrchestraError GIT_FAILED when either names no commit
 */
export async function sameTree(root: string, a: string, b: string): Promise<boolean> {
  assertNotOption(a, 'commit');
  assertNotOption(b, 'commit');
  const tree = async (commit: string) =>
    (await gitExec(root, ['rev-parse', '--verify', `${commit}^{tree}`])).stdout.trim();
  return (await tree(a)) === (await tree(b));
}

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

/** Default cap of {@link diffText}: about 25k tokens, what a reviewer model reads comfortably. */
export const DIFF_TEXT_MAX_BYTES = 100_000;

/**
 * Counts what `commit` changed against `base`, both in the host repository (the attempt's base
 * commit and its imported result; never the moving tip of the base branch).
 *
 * @throws OrchestraError GIT_FAILED when either names no commit
 */
export async function diffStat(root: string, base: string, commit: string): Promise<DiffStat> {
  assertNotOption(base, 'base commit');
  assertNotOption(commit, 'commit');
  const numstat = (await gitExec(root, ['diff', '--numstat', ...DIFF_FLAGS, base, commit, '--'])).stdout;
  const text = (await gitExec(root, ['diff', '--stat', ...DIFF_FLAGS, base, commit, '--'])).stdout;
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
}

/**
 * `commit`'s change against `base` as a unified diff, cut to `maxBytes` (default
 * {@link DIFF_TEXT_MAX_BYTES}); the rest is read and counted, not held. A symlink shows as its
 * target path, never the file it points at.
 *
 * @throws OrchestraError GIT_FAILED when either names no commit
 */
export async function diffText(
  root: string,
  base: string,
  commit: string,
  options: { maxBytes?: number } = {},
): Promise<DiffText> {
  assertNotOption(base, 'base commit');
  assertNotOption(commit, 'commit');
  const maxBytes = Math.max(0, options.maxBytes ?? DIFF_TEXT_MAX_BYTES);
  // The agent decides how big its change is: only what is shown is held, the rest is counted.
  const diff = await gitExec(root, ['diff', ...DIFF_FLAGS, base, commit, '--'], { keepBytes: maxBytes + 1 });
  if (diff.stdoutBytes <= maxBytes)
    return { text: diff.stdout, truncated: false, totalBytes: diff.stdoutBytes };
  return {
    text: cutUtf8(Buffer.from(diff.stdout, 'utf8'), maxBytes),
    truncated: true,
    totalBytes: diff.stdoutBytes,
  };
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

/** Author and committer used when the repository has no `user.name` / `user.email`. */
export const FALLBACK_IDENTITY = { name: 'orchestra', email: 'orchestra@localhost' } as const;

/**
 * The identity orchestra's commits are made with: the host repository's `user.name` and
 * `user.email` as git resolves them, each falling back to {@link FALLBACK_IDENTITY}.
 */
export async function hostIdentity(root: string): Promise<{ name: string; email: string }> {
  const value = async (key: string) =>
    (
      await gitExec(root, ['config', '--get', key], { okCodes: [0, 1] }).catch(() => undefined)
    )?.stdout.trim() ?? '';
  return {
    name: (await value('user.name')) || FALLBACK_IDENTITY.name,
    email: (await value('user.email')) || FALLBACK_IDENTITY.email,
  };
}
