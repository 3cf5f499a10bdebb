import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { isOrchestraError } from '../../src/common/errors.js';
import {
  createWorktree,
  deleteBranch,
  diffStat,
  diffText,
  gcWorktrees,
  importBundle,
  listWorktrees,
  pruneWorktrees,
  removeWorktree,
  runSetup,
} from '../../src/git/worktree.js';
import { cleanEnv, finishAttempt, gitOut, makeRepo, removeDir, tempDir } from './fixtures.js';

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));

/**
 * A linked attempt worktree as orchestra made them before attempts got repositories of their own:
 * `git worktree add -b orchestra/<task>/a<n> .orchestra/worktrees/<task>-a<n>`. gc and the
 * worktree listing still have to handle them.
 */
function legacyWorktree(
  root: string,
  taskId: string,
  n: number,
): { path: string; branch: string; base: string } {
  const path = join(root, '.orchestra', 'worktrees', `${taskId}-a${n}`);
  const branch = `orchestra/${taskId}/a${n}`;
  gitOut(root, 'worktree', 'add', '--quiet', '-b', branch, path);
  return { path, branch, base: gitOut(root, 'rev-parse', 'HEAD') };
}

describe('worktree', () => {
  let root: string;

  before(async () => {
    root = await makeRepo();
  });
  after(async () => {
    await removeDir(root);
  });

  test('createWorktree checks out the base on the attempt branch', async () => {
    const base = gitOut(root, 'rev-parse', 'main');
    const wt = await createWorktree({ root, taskId: 'task-01', n: 1, baseBranch: 'main' });
    assert.deepEqual(wt, {
      attemptId: 'task-01-a1',
      path: join(root, '.orchestra', 'worktrees', 'task-01-a1'),
      branch: 'orchestra/task-01/a1',
      base,
    });
    assert.equal(await readFile(join(wt.path, 'README.md'), 'utf8'), 'hello\nworld\n');
    assert.equal(gitOut(wt.path, 'symbolic-ref', '--short', 'HEAD'), 'orchestra/task-01/a1');
    assert.equal(gitOut(wt.path, 'rev-parse', 'HEAD'), base);
    assert.equal(gitOut(root, 'status', '--porcelain'), '');
  });

  test('an attempt is a repository of its own: the host .git is not its git dir, and it borrows objects', async () => {
    const wt = await createWorktree({ root, taskId: 'task-02', n: 1, baseBranch: 'main' });
    assert.equal(await realpath(gitOut(wt.path, 'rev-parse', '--absolute-git-dir')), join(wt.path, '.git'));
    assert.equal(
      (await readFile(join(wt.path, '.git', 'objects', 'info', 'alternates'), 'utf8')).trim(),
      join(root, '.git', 'objects'),
    );
    // No template hooks were copied in, and the host has the attempt's branch at the base.
    await assert.rejects(stat(join(wt.path, '.git', 'hooks')), { code: 'ENOENT' });
    assert.equal(gitOut(root, 'rev-parse', wt.branch), wt.base);
    assert.doesNotMatch(gitOut(root, 'worktree', 'list'), /task-02/);
  });

  test('setup commands run in the worktree and stop at the first failure', async () => {
    const wt = await createWorktree({ root, taskId: 'task-02', n: 2, baseBranch: 'main' });
    const result = await runSetup(wt.path, ['echo built > build.txt', 'exit 3', 'echo no > never.txt']);
    assert.equal(result.ok, false);
    assert.deepEqual(
      result.steps.map((s) => s.exitCode),
      [0, 3],
    );
    assert.equal(await readFile(join(wt.path, 'build.txt'), 'utf8'), 'built\n');
    await assert.rejects(stat(join(wt.path, 'never.txt')), { code: 'ENOENT' });
    await assert.rejects(stat(join(root, 'build.txt')), { code: 'ENOENT' });
  });

  test('export and import: nothing on a fresh attempt, an untracked file counts, undone work does not', async () => {
    const wt = await createWorktree({ root, taskId: 'task-03', n: 1, baseBranch: 'main' });
    assert.deepEqual(await finishAttempt(root, wt, 'm'), { commit: wt.base, changed: false });
    await writeFile(join(wt.path, 'new-file.ts'), 'export const x = 1;\n');
    const work = await finishAttempt(root, wt, 'm');
    assert.equal(work.changed, true);
    assert.equal(gitOut(root, 'rev-parse', wt.branch), work.commit);
    // The export touches nothing of the worker's: its index, HEAD and files are as they were.
    assert.equal(gitOut(wt.path, 'status', '--porcelain'), '?? new-file.ts');
    assert.equal(gitOut(wt.path, 'rev-parse', 'HEAD'), wt.base);
    await rm(join(wt.path, 'new-file.ts'));
    assert.equal((await finishAttempt(root, wt, 'm')).changed, false);
  });

  test('export sees a same-size edit made in the second the index was written (racy-git)', async () => {
    // git compares cached stat data at one-second resolution; an edit that keeps size and second
    // is only caught because the index's own mtime marks the entry as racy. Start early in a second
    // so checkout, index write and edit share it, then look from the next second.
    await sleep(1010 - (Date.now() % 1000));
    const wt = await createWorktree({ root, taskId: 'task-03', n: 2, baseBranch: 'main' });
    await writeFile(join(wt.path, 'README.md'), 'hello\nthere\n');
    await sleep(1010 - (Date.now() % 1000));
    const work = await finishAttempt(root, wt, 'm');
    assert.equal(work.changed, true);
    assert.equal((await diffStat(root, wt.base, work.commit)).files, 1);
  });

  test('diffStat and diffText count committed, modified and untracked changes against the base', async () => {
    const wt = await createWorktree({ root, taskId: 'task-04', n: 1, baseBranch: 'main' });
    const empty = await diffStat(root, wt.base, wt.base);
    assert.deepEqual([empty.files, empty.insertions, empty.deletions], [0, 0, 0]);

    // Committed: one new file with 3 lines.
    await writeFile(join(wt.path, 'a.txt'), '1\n2\n3\n');
    gitOut(wt.path, 'add', 'a.txt');
    gitOut(wt.path, 'commit', '--quiet', '-m', 'a');
    // Uncommitted: README.md "world" -> "there" (1 in, 1 out); untracked b.txt with 2 lines.
    await writeFile(join(wt.path, 'README.md'), 'hello\nthere\n');
    await writeFile(join(wt.path, 'b.txt'), 'x\ny\n');
    // Ignored files are no part of an attempt's change.
    await mkdir(join(wt.path, '.orchestra'), { recursive: true });
    await writeFile(join(wt.path, '.orchestra', 'scratch'), 'ignored\n');
    const { commit } = await finishAttempt(root, wt, 'orchestra: task-04 attempt 1');
    // Main moves on meanwhile: the attempt's diff is still against its own base.
    await writeFile(join(root, 'later.txt'), 'later\n');
    gitOut(root, 'add', 'later.txt');
    gitOut(root, 'commit', '--quiet', '-m', 'later on main');

    const stat = await diffStat(root, wt.base, commit);
    assert.deepEqual([stat.files, stat.insertions, stat.deletions], [3, 6, 1]);
    assert.match(stat.text, /3 files changed, 6 insertions\(\+\), 1 deletion\(-\)/);
    assert.match(stat.text, /b\.txt/);

    const diff = await diffText(root, wt.base, commit, { maxBytes: 1_000_000 });
    assert.equal(diff.truncated, false);
    assert.equal(diff.totalBytes, Buffer.byteLength(diff.text));
    assert.match(diff.text, /\+\+\+ b\/b\.txt\n@@ -0,0 \+1,2 @@\n\+x\n\+y\n/);
    assert.match(diff.text, /-world\n\+there\n/);
    assert.doesNotMatch(diff.text, /scratch|later/);

    const cut = await diffText(root, wt.base, commit, { maxBytes: 100 });
    assert.equal(cut.truncated, true);
    assert.equal(cut.totalBytes, diff.totalBytes);
    assert.ok(Buffer.byteLength(cut.text) <= 100);
    assert.ok(diff.text.startsWith(cut.text));
    assert.ok(cut.text.endsWith('\n'), 'cut at a line end');
    gitOut(root, 'reset', '--quiet', '--hard', 'HEAD~1');
  });

  test("the export commit carries the host's identity and lands on the attempt branch only", async () => {
    const wt = await createWorktree({ root, taskId: 'task-05', n: 2, baseBranch: 'main' });
    await writeFile(join(wt.path, 'feature.txt'), 'done\n');
    await writeFile(join(wt.path, 'README.md'), 'hello\n');
    const otherRefs = () =>
      gitOut(root, 'for-each-ref', '--format=%(refname) %(objectname)')
        .split('\n')
        .filter((line) => !line.startsWith('refs/heads/orchestra/task-05/a2 '));
    const refsBefore = otherRefs();
    const { commit } = await finishAttempt(root, wt, 'orchestra: task-05 attempt 2');
    assert.equal(
      gitOut(root, 'log', '-1', '--format=%H %s', 'orchestra/task-05/a2'),
      `${commit} orchestra: task-05 attempt 2`,
    );
    assert.equal(
      gitOut(root, 'log', '-1', '--format=%an <%ae>', 'orchestra/task-05/a2'),
      'Test User <test@example.com>',
    );
    assert.equal(gitOut(root, 'show', '--format=', '--name-only', commit), 'README.md\nfeature.txt');
    assert.deepEqual(otherRefs(), refsBefore);
    // The main checkout did not move.
    assert.equal(gitOut(root, 'rev-parse', 'HEAD'), wt.base);
  });

  test('a bundle that is not one export, or whose work does not descend from the base, moves nothing', async () => {
    const wt = await createWorktree({ root, taskId: 'task-05', n: 3, baseBranch: 'main' });
    const attempt = { root, branch: wt.branch, base: wt.base, attemptId: wt.attemptId };
    await assert.rejects(importBundle({ ...attempt, bundle: Buffer.from('not a bundle\n') }), {
      code: 'EXPORT_FAILED',
    });
    // Objects git's fsck refuses (a .gitmodules URL that is an option) are refused from a bundle too.
    await writeFile(join(wt.path, '.gitmodules'), '[submodule "x"]\n\tpath = x\n\turl = -u./payload\n');
    await assert.rejects(
      finishAttempt(root, wt, 'evil'),
      (error: unknown) =>
        isOrchestraError(error, 'EXPORT_FAILED') &&
        /gitmodulesUrl|disallowed submodule url/.test(error.message),
    );
    assert.equal(gitOut(root, 'rev-parse', wt.branch), wt.base);
    await rm(join(wt.path, '.gitmodules'));
    // Work that does not descend from the base (an orphan commit of the worker's) is refused.
    gitOut(wt.path, 'checkout', '--quiet', '--orphan', 'elsewhere');
    await writeFile(join(wt.path, 'orphan.txt'), 'o\n');
    gitOut(wt.path, 'add', 'orphan.txt');
    gitOut(wt.path, '-c', 'user.name=w', '-c', 'user.email=w@w', 'commit', '--quiet', '-m', 'orphan');
    const orphan = await finishAttempt(root, wt, 'orphan').catch((error: unknown) => error);
    assert.ok(isOrchestraError(orphan, 'EXPORT_FAILED'), String(orphan));
    assert.equal(gitOut(root, 'rev-parse', wt.branch), wt.base);
    assert.equal(gitOut(root, 'for-each-ref', 'refs/orchestra'), '');
  });

  test('the export works with no user identity configured anywhere', async () => {
    const bare = await makeRepo();
    const home = await tempDir();
    try {
      gitOut(bare, 'config', '--unset', 'user.name');
      gitOut(bare, 'config', '--unset', 'user.email');
      const wt = await createWorktree({ root: bare, taskId: 'task-06', n: 1, baseBranch: 'main' });
      await writeFile(join(wt.path, 'x.txt'), 'x\n');
      // A child process, so HOME and the config variables are its own and not the test runner's.
      const script = join(home, 'finish.mjs');
      const moduleUrl = new URL('test/git/fixtures.ts', `file://${projectRoot}`).href;
      await writeFile(
        script,
        `import { finishAttempt } from ${JSON.stringify(moduleUrl)};\n` +
          `const [root, attempt] = [process.argv[2], JSON.parse(process.argv[3])];\n` +
          `process.stdout.write((await finishAttempt(root, attempt, 'orchestra: task-06 attempt 1')).commit);\n`,
      );
      const env = cleanEnv({ HOME: home, XDG_CONFIG_HOME: home });
      delete env.EMAIL;
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', script, bare, JSON.stringify(wt)],
        { cwd: projectRoot, env },
      );
      assert.match(stdout, /^[0-9a-f]{40}$/);
      assert.equal(
        gitOut(bare, 'log', '-1', '--format=%an <%ae>|%cn <%ce>|%s', 'orchestra/task-06/a1'),
        'orchestra <orchestra@localhost>|orchestra <orchestra@localhost>|orchestra: task-06 attempt 1',
      );
      // Nothing was written to the repository's config.
      assert.throws(() => gitOut(bare, 'config', '--local', 'user.name'));
    } finally {
      await removeDir(bare);
      await removeDir(home);
    }
  });

  test('a missing base branch is refused, naming existing branches', async () => {
    await assert.rejects(
      createWorktree({ root, taskId: 'task-07', n: 1, baseBranch: 'develop' }),
      (error: unknown) => {
        assert.ok(isOrchestraError(error, 'BASE_BRANCH_MISSING'), String(error));
        assert.match(error.message, /"develop"/);
        assert.match(error.hint ?? '', /baseBranch/);
        assert.match(error.hint ?? '', /orchestra\.json/);
        assert.match(error.hint ?? '', /\bmain\b/);
        assert.doesNotMatch(error.hint ?? '', /orchestra\/task-/);
        return true;
      },
    );
    assert.equal(gitOut(root, 'branch', '--list', 'orchestra/task-07/*'), '');
  });

  test('creating the same attempt twice is refused', async () => {
    const wt = await createWorktree({ root, taskId: 'task-08', n: 1, baseBranch: 'main' });
    await assert.rejects(
      createWorktree({ root, taskId: 'task-08', n: 1, baseBranch: 'main' }),
      (error: unknown) => {
        assert.ok(isOrchestraError(error, 'WORKTREE_EXISTS'), String(error));
        assert.match(error.hint ?? '', /orchestra gc/);
        return true;
      },
    );
    // Folder gone but branch still there: still refused.
    await rm(wt.path, { recursive: true, force: true });
    await assert.rejects(
      createWorktree({ root, taskId: 'task-08', n: 1, baseBranch: 'main' }),
      (error: unknown) => {
        assert.ok(isOrchestraError(error, 'WORKTREE_EXISTS'), String(error));
        assert.match(error.message, /orchestra\/task-08\/a1/);
        return true;
      },
    );
  });

  test('task ids that cannot be a folder name are refused', async () => {
    await assert.rejects(
      createWorktree({ root, taskId: '../escape', n: 1, baseBranch: 'main' }),
      (error: unknown) => isOrchestraError(error, 'TASK_INVALID'),
    );
    await assert.rejects(
      createWorktree({ root, taskId: 'task-09', n: 0, baseBranch: 'main' }),
      (error: unknown) => isOrchestraError(error, 'TASK_INVALID'),
    );
  });

  test('listWorktrees, removeWorktree and pruneWorktrees (linked attempt worktrees of older versions)', async () => {
    const a = legacyWorktree(root, 'task-10', 1);
    const b = legacyWorktree(root, 'task-10', 2);
    let list = await listWorktrees(root);
    assert.equal(list[0]?.path, root);
    assert.equal(list[0]?.branch, 'main');
    assert.equal(list[0]?.attemptId, undefined);
    const entryA = list.find((e) => e.attemptId === 'task-10-a1');
    assert.deepEqual(entryA, { path: a.path, branch: a.branch, head: a.base, attemptId: 'task-10-a1' });

    // A dirty worktree is only removed with force.
    await writeFile(join(a.path, 'wip.txt'), 'wip\n');
    await assert.rejects(removeWorktree(root, a.path), (error: unknown) =>
      isOrchestraError(error, 'GIT_FAILED'),
    );
    await removeWorktree(root, a.path, { force: true });
    await assert.rejects(stat(a.path), { code: 'ENOENT' });
    await removeWorktree(root, a.path); // a second time is a no-op

    // A folder deleted behind git's back is prunable until pruned.
    await rm(b.path, { recursive: true, force: true });
    list = await listWorktrees(root);
    assert.equal(list.find((e) => e.attemptId === 'task-10-a2')?.prunable, true);
    await pruneWorktrees(root);
    list = await listWorktrees(root);
    assert.equal(
      list.some((e) => e.attemptId?.startsWith('task-10-')),
      false,
    );
    // Branches outlive their worktrees.
    assert.equal(
      gitOut(root, 'branch', '--list', 'orchestra/task-10/*', '--format=%(refname:short)'),
      'orchestra/task-10/a1\norchestra/task-10/a2',
    );
    assert.equal(gitOut(root, 'status', '--porcelain'), '');
  });

  test('gcWorktrees removes what is not kept and keeps every branch', async () => {
    const repo = await makeRepo();
    try {
      const kept = await createWorktree({ root: repo, taskId: 'task-11', n: 1, baseBranch: 'main' });
      const gone = await createWorktree({ root: repo, taskId: 'task-11', n: 2, baseBranch: 'main' });
      const dirty = await createWorktree({ root: repo, taskId: 'task-12', n: 1, baseBranch: 'main' });
      await writeFile(join(dirty.path, 'unsaved.txt'), 'x\n');
      // A leftover folder git does not know, e.g. from a crash mid-create.
      const orphan = join(repo, '.orchestra', 'worktrees', 'task-13-a1');
      await mkdir(orphan);
      await writeFile(join(orphan, 'junk'), 'x');
      // An attempt whose folder was deleted behind git's back, and one locked by hand.
      // Linked worktrees that an older orchestra made, one of them gone and one locked.
      const stale = legacyWorktree(repo, 'task-15', 1);
      await rm(stale.path, { recursive: true, force: true });
      const locked = legacyWorktree(repo, 'task-16', 1);
      gitOut(repo, 'worktree', 'lock', locked.path);
      // Worktrees outside .orchestra/worktrees are the user's own and never touched, not even
      // pruned when their folder is missing (say, on an unmounted drive).
      const own = await tempDir();
      gitOut(repo, 'worktree', 'add', '--quiet', '-b', 'mine', join(own, 'wt'));
      gitOut(repo, 'worktree', 'add', '--quiet', '-b', 'unmounted', join(own, 'away'));
      await rm(join(own, 'away'), { recursive: true, force: true });

      const result = await gcWorktrees(repo, (id) => id === 'task-11-a1');
      assert.deepEqual(result.removed.sort(), ['task-11-a2', 'task-12-a1', 'task-13-a1', 'task-15-a1']);
      assert.deepEqual(
        result.failed.map((f) => f.attemptId),
        ['task-16-a1'],
      );
      assert.match(result.failed[0]?.reason ?? '', /locked/);
      gitOut(repo, 'worktree', 'unlock', locked.path);
      assert.deepEqual((await gcWorktrees(repo, (id) => id === 'task-11-a1')).removed, ['task-16-a1']);
      assert.ok((await stat(kept.path)).isDirectory());
      await assert.rejects(stat(gone.path), { code: 'ENOENT' });
      await assert.rejects(stat(dirty.path), { code: 'ENOENT' });
      await assert.rejects(stat(orphan), { code: 'ENOENT' });
      assert.ok((await stat(join(own, 'wt'))).isDirectory());

      // git lists the main worktree first, the others in no set order.
      const listed = (await listWorktrees(repo)).map((e) => e.attemptId ?? e.branch);
      assert.equal(listed[0], 'main');
      // Attempt repositories are not linked worktrees of the host's.
      assert.deepEqual(listed.slice(1).sort(), ['mine', 'unmounted']);
      assert.equal(
        gitOut(repo, 'for-each-ref', '--format=%(refname:short)', 'refs/heads/orchestra/'),
        'orchestra/task-11/a1\norchestra/task-11/a2\norchestra/task-12/a1\norchestra/task-15/a1\norchestra/task-16/a1',
      );
      assert.equal(gitOut(repo, 'status', '--porcelain'), '');

      // Branch deletion is separate; an unmerged one needs force.
      await writeFile(join(kept.path, 'k.txt'), 'k\n');
      await finishAttempt(repo, kept, 'orchestra: task-11 attempt 1');
      await rm(kept.path, { recursive: true, force: true });
      await assert.rejects(deleteBranch(repo, kept.branch), (error: unknown) =>
        isOrchestraError(error, 'GIT_FAILED'),
      );
      await deleteBranch(repo, kept.branch, { force: true });
      await deleteBranch(repo, gone.branch);
      assert.equal(gitOut(repo, 'branch', '--list', 'orchestra/task-11/*'), '');

      gitOut(repo, 'worktree', 'remove', join(own, 'wt'));
      await removeDir(own);
    } finally {
      await removeDir(repo);
    }
  });

  test('the main repo stays clean even before orchestra init', async () => {
    const repo = await makeRepo({ initialized: false });
    try {
      const wt = await createWorktree({ root: repo, taskId: 'task-14', n: 1, baseBranch: 'main' });
      await writeFile(join(wt.path, 'change.txt'), 'x\n');
      assert.equal(gitOut(repo, 'status', '--porcelain'), '');
      assert.equal(await realpath(join(repo, '.orchestra', 'worktrees', 'task-14-a1')), wt.path);
    } finally {
      await removeDir(repo);
    }
  });

  test('after all of it the main repo is clean', async () => {
    assert.equal(gitOut(root, 'status', '--porcelain'), '');
    assert.equal(gitOut(root, 'symbolic-ref', '--short', 'HEAD'), 'main');
  });
});
