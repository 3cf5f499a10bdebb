import assert from 'node:assert/strict';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { writeFileAtomic } from '../../src/common/atomic-write.js';
import { fillDisk, tmpfsForTests } from '../support/tmpfs.js';

/** An atomic write on a full disk (issue 10): it fails, keeps the old content and leaves no temp file. */

const disk = tmpfsForTests();

test('a write that runs out of space keeps the old file and leaves no temporary file', async (t) => {
  if (disk.skip) return t.skip(disk.skip);
  const file = path.join(disk.mnt, 'state.json');
  await writeFile(file, '{"old":true}\n');
  const filler = fillDisk(disk.mnt);
  for (let i = 0; i < 3; i++) {
    await assert.rejects(writeFileAtomic(file, 'x'.repeat(64 * 1024)), { code: 'ENOSPC' });
  }
  assert.deepEqual((await readdir(disk.mnt)).sort(), ['filler', 'state.json']);
  assert.equal(await readFile(file, 'utf8'), '{"old":true}\n');
  await rm(filler);
});
