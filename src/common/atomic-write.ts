import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Writes `data`, fsynced, to a new hidden temporary file next to `path` (same directory, so a
 * rename or link into place stays on one file system).
 *
 * @returns the temporary file's path; the caller renames, links or removes it
 * @throws the fs error (ENOSPC, EIO) when it cannot be written; the temporary file is removed
 */
export async function writeTempBeside(
  path: string,
  data: string | Uint8Array,
  mode = 0o644,
): Promise<string> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    // A full disk (ENOSPC) must not also leave a torn temp file behind on every retry.
    await unlink(tmp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  return tmp;
}

/**
 * Writes `data` to `path` atomically: a temporary file in the same directory is written, fsynced
 * and renamed over the target, so a reader sees either the old or the new content, never a torn
 * file. Creates the parent directory when missing.
 *
 * @param path destination file
 * @param data content (string is written as UTF-8)
 * @param mode file mode for a newly created file (default 0o644)
 * @throws the underlying fs error when the directory is not writable
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = await writeTempBeside(path, data, mode);
  try {
    await rename(tmp, path);
  } catch (error) {
    await unlink(tmp).catch(() => {
      // The rename failure is the error worth reporting; a leftover temp file is harmless.
    });
    throw error;
  }
}
