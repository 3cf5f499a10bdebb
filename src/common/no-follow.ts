import { constants } from 'node:fs';
import { type FileHandle, lstat, mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * File access for folders a worker can write (an attempt's run directory): the worker may have
 * put a symlink (to `/etc/passwd`, to the user's `~/.bashrc`), a FIFO or a device where the host
 * expects its own file. Every open here refuses a symlink as the last component (`O_NOFOLLOW`),
 * never blocks on a FIFO (`O_NONBLOCK`), and refuses anything but a regular file, so the host never
 * writes through, reads through, or hangs on what a worker planted. The folder itself must be one
 * the worker cannot replace (its parent belongs to the host).
 */

const NO_FOLLOW = constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** Thrown for a planted entry: code `ENOTREG`, with the path. */
function notRegular(path: string): NodeJS.ErrnoException {
  const error = new Error(
    `${path} is not a regular file (a worker may have replaced it)`,
  ) as NodeJS.ErrnoException;
  error.code = 'ENOTREG';
  error.path = path;
  return error;
}

async function openRegular(path: string, flags: number, mode?: number): Promise<FileHandle> {
  const handle = await open(path, flags | NO_FOLLOW, mode);
  try {
    if (!(await handle.stat()).isFile()) throw notRegular(path);
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/**
 * Appends `data` to the regular file `path` (created with `mode` when missing).
 *
 * @throws ELOOP for a symlink, ENOTREG for a FIFO, device or folder, or the fs error
 */
export async function appendNoFollow(path: string, data: string, mode = 0o644): Promise<void> {
  const handle = await openRegular(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, mode);
  try {
    await handle.writeFile(data);
  } finally {
    await handle.close();
  }
}

/**
 * Writes `data` to the regular file `path`, replacing its content (created with `mode` when
 * missing). Parent folders are made, refusing any that is a symlink.
 *
 * @throws ELOOP for a symlink, ENOTREG for a FIFO, device or folder, or the fs error
 */
export async function writeNoFollow(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const parent = dirname(path);
  await mkdir(parent, { recursive: true });
  if (!(await lstat(parent)).isDirectory()) throw notRegular(parent);
  const handle = await openRegular(path, constants.O_WRONLY | constants.O_CREAT, mode);
  try {
    await handle.truncate(0);
    await handle.writeFile(data);
  } finally {
    await handle.close();
  }
}

/**
 * Reads the regular file `path` from byte `offset`, at most `maxBytes` of it.
 *
 * @returns the bytes read (fewer when the file is shorter)
 * @throws ENOENT when missing, ELOOP for a symlink, ENOTREG for anything but a regular file
 */
export async function readNoFollow(path: string, maxBytes: number, offset = 0): Promise<Buffer> {
  const handle = await openRegular(path, constants.O_RDONLY);
  try {
    const size = (await handle.stat()).size;
    const length = Math.max(0, Math.min(maxBytes, size - offset));
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, offset);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Size of the regular file `path` in bytes, or undefined when it is missing or not a regular file. */
export async function regularFileSize(path: string): Promise<number | undefined> {
  const info = await lstat(path).catch(() => undefined);
  return info?.isFile() ? info.size : undefined;
}
