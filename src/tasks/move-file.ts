import { constants } from 'node:fs';
import { copyFile, link, lstat, mkdir, open, readlink, symlink, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeTempBeside } from '../common/atomic-write.js';
import { suffixedFileName } from './naming.js';

/**
 * Moving and creating files without ever overwriting or losing one (DESIGN.md: failed tasks are
 * "never lost"). A plain rename() replaces an existing destination silently, so a move is a hard
 * link (which fails with EEXIST when the name is taken, atomically) followed by an unlink of the
 * source; where hard links are impossible (another file system: EXDEV) it is an exclusive copy,
 * fsync, then unlink.
 */

/** link() errors that mean "no hard link possible here", not "something is wrong": copy instead. */
const LINK_UNSUPPORTED = new Set(['EXDEV', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK']);

/** Collision suffixes tried before giving up; more than this in one folder means something loops. */
const MAX_NAME_ATTEMPTS = 1000;

/** The errno code of a file-system error (`ENOENT`), or undefined. */
export function errnoCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
    ? error.code
    : undefined;
}

/** fsync of a directory, so a rename or link in it survives a crash. */
async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Best effort: some platforms and file systems refuse to open or fsync a directory; the move
    // itself has already happened and is what matters.
  }
}

/** Copies `src` to a new file `dst` (never an existing one) and fsyncs it; a symlink stays a symlink. */
async function copyExclusive(src: string, dst: string): Promise<void> {
  const stat = await lstat(src);
  if (stat.isSymbolicLink()) {
    // copyFile would follow the link and copy whatever it points at, possibly outside the repository.
    await symlink(await readlink(src), dst);
    return;
  }
  await copyFile(src, dst, constants.COPYFILE_EXCL);
  try {
    const handle = await open(dst, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    // The copy is not known to be on disk, and the source still is: drop the copy, keep the source.
    await unlink(dst).catch(() => undefined);
    throw error;
  }
}

/**
 * Moves `src` to `dst`, refusing to overwrite: rename semantics where `dst` is created as with
 * flag `wx`. Across file systems (EXDEV) the file is copied, fsynced and then unlinked, so at
 * every moment at least one complete copy exists.
 *
 * @throws the fs error: EEXIST when `dst` exists (nothing moved), ENOENT when `src` is gone
 *   (including when another mover took it first; then nothing is left at `dst` either)
 */
export async function moveFile(src: string, dst: string): Promise<void> {
  try {
    await link(src, dst);
  } catch (error) {
    if (!LINK_UNSUPPORTED.has(errnoCode(error) ?? '')) throw error;
    await copyExclusive(src, dst);
  }
  try {
    await unlink(src);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') {
      // Another mover linked and unlinked the same file meanwhile; it owns the move, and ours is a
      // second name for the same file.
      await unlink(dst).catch(() => undefined);
    }
    throw error;
  }
  await syncDir(dirname(dst));
}

/**
 * Moves `src` into `dir` as `name`, or `name` with `-2`, `-3`, ... before the extension when
 * taken. Creates `dir` when missing.
 *
 * @returns the destination path
 * @throws the fs error of {@link moveFile} other than EEXIST
 */
export async function moveToFreeName(src: string, dir: string, name: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (let k = 1; k <= MAX_NAME_ATTEMPTS; k++) {
    const dst = join(dir, suffixedFileName(name, k));
    try {
      await moveFile(src, dst);
      return dst;
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST') throw error;
    }
  }
  throw new Error(`no free name for ${name} in ${dir} after ${MAX_NAME_ATTEMPTS} tries`);
}

/**
 * Writes `data` as a new file in `dir` under `name`, or `name` with a `-2`, `-3`... suffix when
 * taken; never overwrites, and readers never see it half-written (see {@link writeNewFile}).
 *
 * @returns the path written
 */
export async function writeToFreeName(dir: string, name: string, data: string | Uint8Array): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (let k = 1; k <= MAX_NAME_ATTEMPTS; k++) {
    const dst = join(dir, suffixedFileName(name, k));
    try {
      await writeNewFile(dst, data);
      return dst;
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST') throw error;
    }
  }
  throw new Error(`no free name for ${name} in ${dir} after ${MAX_NAME_ATTEMPTS} tries`);
}

/**
 * Creates `path` with `data`, failing with EEXIST when it exists (flag `wx` semantics). Readers
 * never see a partial file: the data is written and fsynced under a hidden temporary name first,
 * then hard-linked into place. Where hard links are impossible it falls back to `open(path, 'wx')`.
 *
 * @throws the fs error; EEXIST when `path` is taken
 */
export async function writeNewFile(path: string, data: string | Uint8Array): Promise<void> {
  const dir = dirname(path);
  const tmp = await writeTempBeside(path, data);
  try {
    await link(tmp, path);
  } catch (error) {
    if (!LINK_UNSUPPORTED.has(errnoCode(error) ?? '')) throw error;
    const target = await open(path, 'wx');
    try {
      await target.writeFile(data);
      await target.sync();
    } finally {
      await target.close();
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  await syncDir(dir);
}
