import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { writeFileAtomic } from '../../src/common/atomic-write.js';
import { fillDisk, mountTmpfs, unmountTmpfs } from '../support/tmpfs.js';

/** An atomic write on a full disk (issue 10): it fails, keeps the old content and leaves no temp file. */

let tmp: string;
let mnt: string;
let skip: string | undefined;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'orchestra-'));
  mnt = path.join(tmp, 'disk');
  skip = mountTmpfs(mnt);
});
after(async () => {
  unmountTmpfs(mnt);
  await rm(tmp, { recursive: true, force: true });
});

test('a write that runs out of space keeps the old file and leaves no temporary file', async (t) => {
  if (skip) return t.skip(skip);
  const file = path.join(mnt, 'state.json');
  await writeFile(file, '{"old":true}\n');
  const filler = fillDisk(mnt);
  for (let i = 0; i < 3; i++) {
    await assert.rejects(writeFileAtomic(file, 'x'.repeat(64 * 1024)), { code: 'ENOSPC' });
  }
  assert.deepEqual((await readdir(mnt)).sort(), ['filler', 'state.json']);
  assert.equal(await readFile(file, 'utf8'), '{"old":true}\n');
  await rm(filler);
});
