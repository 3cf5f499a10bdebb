/**
 * A full disk is usually brief (a log rotated, a build cleaned): work that meets one waits for
 * room and tries again rather than failing what it was recording (issue 10).
 */

/**
 * How long work waits for a full disk to have room again, ms: long enough for a person to free
 * space or a cleanup job to run, short enough that a disk that stays full is reported.
 */
export const DEFAULT_DISK_FULL_PATIENCE_MS = 5 * 60_000;

/** How often work that met a full disk tries again, ms. */
export const DISK_FULL_RETRY_MS = 500;

/**
 * True for the errors of a disk (or quota) with no room left: Node's (code ENOSPC, EDQUOT) and a
 * child's, by the C library's words for them (strerror(3)) in its message, as git prints them.
 */
export function isDiskFull(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return true;
  return /No space left on device|Disk quota exceeded/.test(
    String((error as Error | undefined)?.message ?? ''),
  );
}

/**
 * Runs `step` until it does not fail for a full disk, every {@link DISK_FULL_RETRY_MS}; any other
 * error, a full disk past `patienceMs`, or one met once `giveUp()` is true, is thrown.
 *
 * @param options.patienceMs how long to keep trying, ms; default {@link DEFAULT_DISK_FULL_PATIENCE_MS}
 * @param options.onFirstWait called once, with the error, when the first wait begins (to tell a person)
 * @param options.giveUp true when waiting is no longer worth it (the server stops)
 */
export async function waitingOutDiskFull<T>(
  step: () => Promise<T>,
  options: { patienceMs?: number; onFirstWait?: (error: Error) => void; giveUp?: () => boolean } = {},
): Promise<T> {
  const deadline = Date.now() + (options.patienceMs ?? DEFAULT_DISK_FULL_PATIENCE_MS);
  for (let waited = false; ; waited = true) {
    try {
      return await step();
    } catch (error) {
      if (!isDiskFull(error) || Date.now() >= deadline || options.giveUp?.()) throw error;
      if (!waited) options.onFirstWait?.(error as Error);
      await new Promise((resolve) => setTimeout(resolve, DISK_FULL_RETRY_MS));
    }
  }
}
