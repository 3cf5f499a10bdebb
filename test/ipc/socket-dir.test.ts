import assert from 'node:assert/strict';
import { chmod, chown, mkdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isOrchestraError } from '../../src/common/errors.js';
import { checkSocketDir, ensureSocketDir } from '../../src/ipc/socket-dir.js';
import { sanitizeSessionName, socketDir, socketPath } from '../../src/protocol/socket-path.js';
import { startServer } from '../../src/server/start.js';
import { TEST_VERSION, tempDir } from '../server/fixtures.js';

/** The socket directory is the access boundary (DESIGN.md, "Sockets and sessions"). */

const unsafe = (error: unknown) => isOrchestraError(error, 'SOCKET_DIR_UNSAFE');

describe('socket directory', () => {
  let tmp: string;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    tmp = await tempDir();
    env = { ORCHESTRA_TMPDIR: tmp };
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  test('lives in $ORCHESTRA_TMPDIR/orchestra-<uid>/, one socket per session', () => {
    const dir = socketDir(env);
    assert.equal(dir, join(tmp, `orchestra-${process.getuid!()}`));
    assert.equal(socketPath('work', env), join(dir, 'work'));
    assert.equal(socketDir({}), `/tmp/orchestra-${process.getuid!()}`);
  });

  test('is created with mode 0700 and accepted', async () => {
    const dir = await ensureSocketDir(env);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    await checkSocketDir(dir);
  });

  test('a directory open to others (0755) is refused with a chmod hint', async () => {
    const dir = join(tmp, 'open');
    await mkdir(dir, { mode: 0o700 });
    await chmod(dir, 0o755);
    await assert.rejects(checkSocketDir(dir), (error) => {
      assert.ok(unsafe(error));
      assert.match(error.message, /mode 755/);
      assert.equal(error.hint, `run \`chmod 700 ${dir}\``);
      return true;
    });
    await chmod(dir, 0o710);
    await assert.rejects(checkSocketDir(dir), unsafe, 'group access is refused too');
  });

  test('a directory owned by another user is refused', async () => {
    assert.equal(process.getuid!(), 0, 'chown to another uid needs root');
    const dir = join(tmp, 'theirs');
    await mkdir(dir, { mode: 0o700 });
    await chown(dir, 65534, 65534);
    await assert.rejects(checkSocketDir(dir), (error) => {
      assert.ok(unsafe(error));
      assert.match(error.message, /owned by uid 65534, not by you \(uid 0\)/);
      return true;
    });
  });

  test('a file or a symlink in its place is refused', async () => {
    const file = join(tmp, 'file');
    await writeFile(file, '');
    await assert.rejects(checkSocketDir(file), unsafe);
    const real = join(tmp, 'real');
    await mkdir(real, { mode: 0o700 });
    const link = join(tmp, 'link');
    await symlink(real, link);
    await assert.rejects(checkSocketDir(link), unsafe);
  });

  test('the server refuses to start over an unsafe socket directory', async () => {
    const other = await tempDir();
    try {
      const otherEnv = { ...process.env, ORCHESTRA_TMPDIR: other };
      const dir = socketDir(otherEnv);
      await mkdir(dir, { mode: 0o700 });
      await chmod(dir, 0o777);
      await assert.rejects(startServer({ session: 'exposed', version: TEST_VERSION, env: otherEnv }), unsafe);
      await assert.rejects(stat(socketPath('exposed', otherEnv)), { code: 'ENOENT' });
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  test('session names become safe file names', () => {
    assert.equal(sanitizeSessionName('my repo/../x'), 'my-repo-..-x', 'no slash survives');
    assert.equal(sanitizeSessionName('../etc'), 'etc');
    assert.equal(sanitizeSessionName('...'), 'default');
    assert.equal(sanitizeSessionName('a'.repeat(100)).length, 64);
    assert.equal(sanitizeSessionName('web-app_2.0'), 'web-app_2.0');
  });
});
