import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isOrchestraError } from '../../src/common/errors.js';
import {
  branchExists,
  currentBranch,
  findRepoRoot,
  gitVersion,
  headCommit,
  isClean,
} from '../../src/git/repo.js';
import { gitOut, makeRepo, removeDir, tempDir } from './fixtures.js';

describe('repo', () => {
  let root: string;
  let outside: string;

  before(async () => {
    root = await makeRepo();
    outside = await tempDir();
  });
  after(async () => {
    await removeDir(root);
    await removeDir(outside);
  });

  test('findRepoRoot finds the top level from a subdirectory', async () => {
    const sub = join(root, 'src', 'deep');
    await mkdir(sub, { recursive: true });
    assert.equal(await findRepoRoot(sub), root);
    assert.equal(await findRepoRoot(root), root);
  });

  test('findRepoRoot resolves symlinks on the way in', async () => {
    const link = join(outside, 'link-to-repo');
    await symlink(root, link);
    assert.equal(await findRepoRoot(link), root);
  });

  test('findRepoRoot outside any repository is NOT_A_REPO with a hint', async () => {
    // A fresh temp dir: neither it nor /tmp nor / is a repository.
    const plain = join(outside, 'plain');
    await mkdir(plain);
    await assert.rejects(findRepoRoot(plain), (error: unknown) => {
      assert.ok(isOrchestraError(error, 'NOT_A_REPO'), String(error));
      assert.equal(error.message, 'not inside a git repository');
      assert.match(error.hint ?? '', /git init/);
      return true;
    });
  });

  test('findRepoRoot of a missing directory is NOT_A_REPO', async () => {
    await assert.rejects(findRepoRoot(join(outside, 'nope')), (error: unknown) =>
      isOrchestraError(error, 'NOT_A_REPO'),
    );
  });

  test('gitVersion reports the installed version', async () => {
    const version = await gitVersion();
    assert.ok(version, 'git is installed on test machines');
    assert.equal(gitOut(root, '--version'), `git version ${version}`);
  });

  test('currentBranch names the branch, undefined when detached', async () => {
    assert.equal(await currentBranch(root), 'main');
    const detached = await tempDir();
    try {
      gitOut(root, 'worktree', 'add', '--quiet', '--detach', join(detached, 'wt'));
      assert.equal(await currentBranch(join(detached, 'wt')), undefined);
    } finally {
      gitOut(root, 'worktree', 'remove', '--force', join(detached, 'wt'));
      await removeDir(detached);
    }
  });

  test('branchExists', async () => {
    gitOut(root, 'branch', 'feature/x');
    assert.equal(await branchExists(root, 'main'), true);
    assert.equal(await branchExists(root, 'feature/x'), true);
    assert.equal(await branchExists(root, 'feature'), false);
    assert.equal(await branchExists(root, 'nope'), false);
    assert.equal(await branchExists(root, '--all'), false);
  });

  test('headCommit resolves refs and refuses unknown ones', async () => {
    const sha = gitOut(root, 'rev-parse', 'HEAD');
    assert.match(sha, /^[0-9a-f]{40}$/);
    assert.equal(await headCommit(root), sha);
    assert.equal(await headCommit(root, 'main'), sha);
    await assert.rejects(headCommit(root, 'no-such-branch'), (error: unknown) =>
      isOrchestraError(error, 'GIT_FAILED'),
    );
  });

  test('isClean sees modified and untracked files but not ignored ones', async () => {
    assert.equal(await isClean(root), true);
    // .orchestra/.gitignore ignores everything else in .orchestra/.
    await writeFile(join(root, '.orchestra', 'state.json'), '{}');
    assert.equal(await isClean(root), true);
    await writeFile(join(root, 'new.txt'), 'x');
    assert.equal(await isClean(root), false);
    gitOut(root, 'add', 'new.txt');
    gitOut(root, 'commit', '--quiet', '-m', 'add new');
    assert.equal(await isClean(root), true);
    await writeFile(join(root, 'README.md'), 'changed\n');
    assert.equal(await isClean(root), false);
    gitOut(root, 'checkout', '--quiet', '--', 'README.md');
    assert.equal(await isClean(root), true);
  });
});
