import assert from 'node:assert/strict';
import { mkdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createWorktree } from '../../src/git/worktree.js';
import { copyIntoWorktree } from '../../src/git/worktree-copy.js';
import { runCli } from '../support/cli.js';
import { gitOut, makeRepo, tempDir } from './fixtures.js';

/** Worktrees that are ready (issue 13): the config's `copy` files, ignored ones only, confined. */
describe('copy: gitignored files into each new worktree', () => {
  let root: string;
  let outside: string;

  before(async () => {
    root = await makeRepo();
    outside = await tempDir();
    await writeFile(join(root, '.gitignore'), '.env\nlocal/\nlinked/\nnot-a-file\n');
    await symlink(outside, join(root, 'linked-target'));
    gitOut(root, 'add', '.gitignore', 'linked-target');
    gitOut(root, 'commit', '-q', '-m', 'ignore .env');
    await writeFile(join(root, '.env'), 'API_KEY=sk-local\n', { mode: 0o600 });
    await mkdir(join(root, 'local'));
    await writeFile(join(root, 'local', 'settings.json'), '{"debug":true}\n');
    await writeFile(join(root, 'visible.txt'), 'would be committed\n');
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  test('a new worktree gets the files, with their mode, and git never sees them', async () => {
    const wt = await createWorktree({ root, taskId: 'task-01', n: 1, baseBranch: 'main' });
    const copied = await copyIntoWorktree(root, wt.path, ['.env', 'local/settings.json', 'missing.env']);
    assert.deepEqual(copied, ['.env', 'local/settings.json'], 'a listed file that is not there is skipped');
    assert.equal(await readFile(join(wt.path, '.env'), 'utf8'), 'API_KEY=sk-local\n');
    assert.equal((await stat(join(wt.path, '.env'))).mode & 0o777, 0o600);
    assert.equal(await readFile(join(wt.path, 'local', 'settings.json'), 'utf8'), '{"debug":true}\n');
    gitOut(wt.path, 'add', '-A');
    assert.equal(gitOut(wt.path, 'status', '--porcelain'), '', 'nothing to commit');
  });

  test('a second start of the attempt keeps what the first copied, listed once', async () => {
    const wt = await createWorktree({ root, taskId: 'task-05', n: 1, baseBranch: 'main' });
    await copyIntoWorktree(root, wt.path, ['.env']);
    assert.deepEqual(await copyIntoWorktree(root, wt.path, ['.env']), ['.env']);
    const exclude = await readFile(join(wt.path, '.git', 'info', 'exclude'), 'utf8');
    assert.equal(exclude.split('\n').filter((l) => l === '/.env').length, 1);
  });

  test('a path the base branch tracks is refused, even where the host ignores it: it would be committed', async () => {
    gitOut(root, 'checkout', '-q', '-b', 'tracks-env');
    await writeFile(join(root, '.env'), 'committed=1\n');
    gitOut(root, 'add', '-f', '.env');
    gitOut(root, 'commit', '-q', '-m', 'track .env');
    gitOut(root, 'checkout', '-q', 'main');
    await writeFile(join(root, '.env'), 'API_KEY=sk-local\n', { mode: 0o600 });
    const wt = await createWorktree({ root, taskId: 'task-06', n: 1, baseBranch: 'tracks-env' });
    await assert.rejects(copyIntoWorktree(root, wt.path, ['.env']), /\.env is in the base branch already/);
    assert.equal(await readFile(join(wt.path, '.env'), 'utf8'), 'committed=1\n', 'not overwritten');
  });

  test('a file the repository does not ignore is refused: the attempt would commit it', async () => {
    const wt = await createWorktree({ root, taskId: 'task-02', n: 1, baseBranch: 'main' });
    await assert.rejects(
      copyIntoWorktree(root, wt.path, ['visible.txt']),
      /visible\.txt is not ignored by the repository's \.gitignore/,
    );
  });

  test('a symlink, on either side, is refused; nothing is read or written outside the repository', async () => {
    await symlink(join(outside, 'secret'), join(root, 'not-a-file'));
    await writeFile(join(outside, '.env'), 'HOST_SECRET=1\n');
    const wt = await createWorktree({ root, taskId: 'task-03', n: 1, baseBranch: 'main' });
    await assert.rejects(copyIntoWorktree(root, wt.path, ['not-a-file']), /not-a-file is not a regular file/);
    // linked-target is a committed symlink to a folder outside: neither a source through it, in
    // the repository, nor a destination through it, in the worktree, is followed.
    await assert.rejects(
      copyIntoWorktree(root, wt.path, ['linked-target/.env']),
      /goes through linked-target, which is not a folder/,
    );
    assert.equal(await readFile(join(outside, '.env'), 'utf8'), 'HOST_SECRET=1\n', 'untouched');
  });

  test('config validate refuses a path outside the repository, with the path and why', async () => {
    await mkdir(join(root, '.orchestra', 'tasks'), { recursive: true });
    for (const [path, why] of [
      ['../secret.env', 'leaves the repository'],
      ['/etc/passwd', 'is absolute'],
      ['.git/config', 'is inside .git/'],
      ['\\etc\\passwd', 'is absolute'],
      ['C:x', 'is absolute'],
      ['.GIT/config', 'is inside .git/'],
      ['sub/.git/config', 'is inside .git/'],
    ] as const) {
      await writeFile(join(root, '.orchestra', 'orchestra.json'), JSON.stringify({ copy: ['.env', path] }));
      const result = await runCli(['config', 'validate'], { cwd: root });
      assert.notEqual(result.code, 0, path);
      assert.match(
        result.stderr + result.stdout,
        new RegExp(`copy\\[1\\].*${why.replace(/[./]/g, '\\$&')}`),
        path,
      );
    }
    await writeFile(join(root, '.orchestra', 'orchestra.json'), JSON.stringify({ copy: ['.env'] }));
    assert.equal((await runCli(['config', 'validate'], { cwd: root })).code, 0);
  });
});
