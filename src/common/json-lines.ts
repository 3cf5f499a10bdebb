import { readNoFollow } from './no-follow.js';

/**
 * Reads a JSON-lines file that a worker can write (an attempt's `events.jsonl`): no symlink or
 * FIFO is followed, at most `maxBytes` is read, and a line that is not JSON (a torn last line, a
 * hook that misfired, garbage) is skipped rather than thrown.
 *
 * @param maxBytes most bytes read from the start of the file
 * @returns the parsed values, in file order; [] when the file does not exist
 * @throws the read error for anything but a missing file (ELOOP for a symlink, ENOTREG, EACCES)
 */
export async function readJsonLines(path: string, maxBytes: number): Promise<unknown[]> {
  let text: string;
  try {
    text = (await readNoFollow(path, maxBytes)).toString('utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const values: unknown[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      values.push(JSON.parse(line));
    } catch {
      // A torn or garbled line carries nothing usable.
    }
  }
  return values;
}
