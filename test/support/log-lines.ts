import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

/** The JSON lines of a log file, asserting that its last line is terminated (no torn line). */
export async function readLogLines(file: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(file, 'utf8');
  assert.ok(text.endsWith('\n'), 'every line is terminated');
  return text
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
