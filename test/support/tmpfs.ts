import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';

/**
 * A small tmpfs for tests of a full disk: mounting needs root (or CAP_SYS_ADMIN), so callers skip
 * with the reason {@link mountTmpfs} gives when it cannot.
 */

/**
 * Mounts a tmpfs of `sizeKiB` KiB on `dir` (created if missing).
 * @returns undefined once mounted, or why it could not be (for a test's `skip`)
 */
export function mountTmpfs(dir: string, sizeKiB = 256): string | undefined {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k`, 'tmpfs', dir], { stdio: 'pipe' });
    return undefined;
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    return `cannot mount a tmpfs here (${stderr || String(error)}): needs root`;
  }
}

/** Unmounts `dir`; quiet when it is not mounted. */
export function unmountTmpfs(dir: string): void {
  try {
    // Lazy (-l): a file a failed test left open must not keep the mount, and the temp dir, around.
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
  } catch {
    // Not mounted (the mount was refused, or already undone).
  }
}

/**
 * Fills the filesystem holding `dir` with `dir/filler` until a write fails with ENOSPC.
 * @returns the filler's path; remove it to free the space again
 */
export function fillDisk(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'a');
  const chunk = Buffer.alloc(4096, 0x78);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
  return path;
}

/**
 * A tmpfs for the tests of the calling file: mounted on `<temp dir>/disk` before them, unmounted
 * and removed after. Read `mnt` and `skip` (why it could not be mounted) inside a test.
 */
export function tmpfsForTests(sizeKiB = 256): { readonly mnt: string; readonly skip: string | undefined } {
  const disk = { mnt: '', skip: undefined as string | undefined };
  let tmp = '';
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'orchestra-'));
    disk.mnt = join(tmp, 'disk');
    disk.skip = mountTmpfs(disk.mnt, sizeKiB);
  });
  after(async () => {
    unmountTmpfs(disk.mnt);
    await rm(tmp, { recursive: true, force: true });
  });
  return disk;
}
