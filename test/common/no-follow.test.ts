import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { appendNoFollow, readNoFollow, regularFileSize, writeNoFollow } from '../../src/common/no-follow.js';

/**
 * The host's reads and writes in a run directory never go through what a worker planted there: a
 * symlink to a host file, a FIFO (which would block a plain open for ever).
 */
let dir: string;
let victim: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'orchestra-nofollow-'));
  victim = join(dir, 'host-file');
  await writeFile(victim, 'host secret\n');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('a symlink planted where the host appends, writes or reads is refused, and its target untouched', async () => {
  const link = join(dir, 'events.jsonl');
  await symlink(victim, link);
  await assert.rejects(appendNoFollow(link, '{"type":"x"}\n'), { code: 'ELOOP' });
  await assert.rejects(writeNoFollow(link, 'task'), { code: 'ELOOP' });
  await assert.rejects(readNoFollow(link, 100), { code: 'ELOOP' });
  assert.equal(await regularFileSize(link), undefined);
  assert.equal(await readFile(victim, 'utf8'), 'host secret\n');
});

test('a FIFO is refused at once instead of blocking', async () => {
  const fifo = join(dir, 'inbox.jsonl');
  execFileSync('mkfifo', [fifo]);
  await assert.rejects(readNoFollow(fifo, 100), { code: 'ENOTREG' });
  // O_NONBLOCK: opening a FIFO for writing with no reader fails (ENXIO) rather than waiting.
  await assert.rejects(appendNoFollow(fifo, 'x'), (error: NodeJS.ErrnoException) =>
    ['ENXIO', 'ENOTREG'].includes(error.code ?? ''),
  );
  assert.equal(await regularFileSize(fifo), undefined);
});

test('regular files are appended, replaced and read in ranges', async () => {
  const file = join(dir, 'sub', 'log.txt');
  await writeNoFollow(file, 'one\ntwo\n');
  await appendNoFollow(file, 'three\n');
  assert.equal((await readNoFollow(file, 100)).toString(), 'one\ntwo\nthree\n');
  assert.equal((await readNoFollow(file, 3, 4)).toString(), 'two');
  await writeNoFollow(file, 'short\n');
  assert.equal(await readFile(file, 'utf8'), 'short\n');
  assert.equal(await regularFileSize(file), 6);
});
