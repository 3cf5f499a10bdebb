import { lstat, mkdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { OrchestraError } from '../common/errors.js';
import { appendNoFollow, readNoFollow, writeNoFollow } from '../common/no-follow.js';
import { copyPathProblem } from '../config/copy-path.js';
import { gitExec } from './run-git.js';

/** The largest file `copy` takes, bytes (an `.env`, a local config — not a data set). */
export const COPY_MAX_BYTES = 10 * 1024 * 1024;

/**
 * Refuses `rel` under `base` when a folder on its way is a symlink or not a folder.
 * @throws OrchestraError COPY_FAILED naming the path and the folder
 */
async function assertNoSymlinkedFolder(base: string, rel: string): Promise<void> {
  const parts = rel.split('/').filter(Boolean).slice(0, -1);
  let at = base;
  for (const part of parts) {
    at = join(at, part);
    const stat = await lstat(at).catch(() => undefined);
    if (!stat) return;
    if (!stat.isDirectory()) {
      throw new OrchestraError(
        'COPY_FAILED',
        `copy: ${rel} goes through ${part}, which is not a folder (a symlink?)`,
        {
          hint: 'copy takes files inside the repository, not through links out of it',
        },
      );
    }
  }
}

/**
 * Creates `rel`'s folders under `base` one by one, refusing any that is a symlink (a committed
 * `config -> /etc` must not turn a copy into a write outside the worktree).
 * @throws OrchestraError COPY_FAILED when a folder on the way is a symlink or not a folder
 */
async function mkdirInside(base: string, rel: string): Promise<void> {
  let at = base;
  for (const part of rel.split('/').filter(Boolean)) {
    at = join(at, part);
    const stat = await lstat(at).catch(() => undefined);
    if (!stat) await mkdir(at);
    else if (!stat.isDirectory()) {
      throw new OrchestraError(
        'COPY_FAILED',
        `copy: ${rel} cannot be made in the worktree: ${part} is not a folder`,
        {
          hint: 'a symlink or file in the base branch stands where copy puts the file',
        },
      );
    }
  }
}

/**
 * Copies the config's `copy` files (gitignored files such as `.env`) from the repository at `root`
 * into a new attempt's `worktree`, before any agent runs there, and lists them in the attempt
 * repository's `.git/info/exclude` so that `git add -A` never picks them up. Each must be a regular
 * file (no symlink) that the repository ignores: a tracked one is in the worktree already, and one
 * neither tracked nor ignored would be committed. A listed file that does not exist is skipped.
 *
 * @returns the paths copied
 * @throws OrchestraError COPY_FAILED with the path and why (not ignored, a symlink, too big)
 */
export async function copyIntoWorktree(
  root: string,
  worktree: string,
  paths: readonly string[],
): Promise<string[]> {
  const copied: string[] = [];
  for (const path of paths) {
    const problem = copyPathProblem(path);
    if (problem)
      throw new OrchestraError('COPY_FAILED', `copy: ${path} ${problem}`, {
        hint: 'fix "copy" in .orchestra/orchestra.json',
      });
    const rel = posix.normalize(path.replace(/\\/g, '/'));
    const source = join(root, rel);
    // No folder on the way may be a symlink: `linked -> ~` would copy a file from outside.
    await assertNoSymlinkedFolder(root, rel);
    const stat = await lstat(source).catch(() => undefined);
    if (!stat) continue;
    if (!stat.isFile()) {
      throw new OrchestraError('COPY_FAILED', `copy: ${rel} is not a regular file (a symlink or folder)`, {
        hint: 'copy takes files; list each file of a folder',
      });
    }
    if (stat.size > COPY_MAX_BYTES) {
      throw new OrchestraError(
        'COPY_FAILED',
        `copy: ${rel} is ${stat.size} bytes, more than ${COPY_MAX_BYTES}`,
        {
          hint: 'copy is for small local files (.env); use setup commands for the rest',
        },
      );
    }
    // Ignored by the repository itself, not only by a person's global excludes (a worker has none).
    const ignored = await gitExec(
      root,
      ['-c', 'core.excludesFile=/dev/null', 'check-ignore', '-q', '--', rel],
      {
        okCodes: [0, 1],
      },
    );
    if (ignored.code !== 0) {
      throw new OrchestraError('COPY_FAILED', `copy: ${rel} is not ignored by the repository's .gitignore`, {
        hint: `add it to .gitignore, or the attempt would commit it (copy is for files such as .env)`,
      });
    }
    // The attempt's checkout (the base branch) may track the path even where the host's branch
    // ignores it: a copy over a tracked file would be committed. Nothing may be there yet.
    const tracked = await gitExec(worktree, ['ls-files', '--error-unmatch', '--', rel], { okCodes: [0, 1] });
    const there = await lstat(join(worktree, rel)).catch(() => undefined);
    // Copied by an earlier start of this attempt (a restart before its agent ran): kept.
    if (tracked.code !== 0 && there?.isFile()) {
      copied.push(rel);
      continue;
    }
    if (tracked.code === 0 || there) {
      throw new OrchestraError('COPY_FAILED', `copy: ${rel} is in the base branch already (tracked there)`, {
        hint: 'the attempt would commit the copy over it: untrack it on the base branch, or drop it from copy',
      });
    }
    await mkdirInside(worktree, posix.dirname(rel) === '.' ? '' : posix.dirname(rel));
    const data = await readNoFollow(source, COPY_MAX_BYTES + 1);
    if (data.length > COPY_MAX_BYTES) {
      throw new OrchestraError(
        'COPY_FAILED',
        `copy: ${rel} grew past ${COPY_MAX_BYTES} bytes while it was read`,
        {
          hint: 'copy is for small local files (.env)',
        },
      );
    }
    await writeNoFollow(join(worktree, rel), data, stat.mode & 0o777);
    copied.push(rel);
  }
  if (copied.length > 0) {
    const exclude = join(worktree, '.git', 'info', 'exclude');
    await mkdirInside(worktree, '.git/info');
    const listed = new Set(
      (await readNoFollow(exclude, 1024 * 1024).catch(() => Buffer.alloc(0))).toString('utf8').split('\n'),
    );
    const missing = copied.filter((p) => !listed.has(`/${p}`));
    if (missing.length > 0) {
      await appendNoFollow(
        exclude,
        `# copied in by orchestra (config "copy"): never committed\n${missing.map((p) => `/${p}`).join('\n')}\n`,
      );
    }
  }
  return copied;
}
