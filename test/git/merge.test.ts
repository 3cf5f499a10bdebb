import assert from 'node:assert/strict';
import { access, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { isOrchestraError } from '../../src/common/errors.js';
import { orchestraPaths } from '../../src/common/paths.js';
import { defaultConfig } from '../../src/config/schema.js';
import { type MergeOutcome, mergeResult } from '../../src/git/merge.js';
import { createWorktree } from '../../src/git/worktree.js';
import { mergeGate } from '../../src/scheduler/merge-gate.js';
import { finishAttempt, gitOut, makeRepo, removeDir, tempDir } from './fixtures.js';

/**
 * mergeResult with the merge gate of `sandbox: local` running `checks` and `setup`, as
 * `orchestra merge` does in a repository without Docker.
 */
function merge(options: {
  root: string;
  baseBranch: string;
  resultBranch: string;
  checks: string[];
  setup?: string[];
  message: string;
  env?: Record<string, string | undefined>;
  onOutput?: (chunk: string) => void;
}): Promise<MergeOutcome> {
  const config = {
    ...defaultConfig(),
    sandbox: 'local' as const,
    check: options.checks,
    setup: options.setup ?? [],
  };
  return mergeResult({
    root: options.root,
    baseBranch: options.baseBranch,
    resultBranch: options.resultBranch,
    message: options.message,
    gate: mergeGate({
      root: options.root,
      paths: orchestraPaths(options.root),
      config,
      env: { ...process.env, ...options.env },
      session: 'test',
      ...(options.onOutput ? { onOutput: options.onOutput } : {}),
    }),
  });
}

/** Variables that must not reach a check's own git calls from the test runner's environment. */
const NO_GIT_ENV = { GIT_DIR: undefined, GIT_WORK_TREE: undefined, GIT_INDEX_FILE: undefined };

/**
 * Makes attempt 1 of `taskId` the real way (its repository, an edit, export and import), then
 * removes its folder as `orchestra gc` would, leaving the branch.
 */
async function makeResult(root: string, taskId: string, files: Record<string, string>): Promise<string> {
  const wt = await createWorktree({ root, taskId, n: 1, baseBranch: 'main' });
  for (const [name, text] of Object.entries(files)) await writeFile(join(wt.path, name), text);
  assert.ok((await finishAttempt(root, wt, `orchestra: ${taskId} attempt 1`)).changed);
  await removeDir(wt.path);
  return wt.branch;
}

/** Commits `files` on the branch checked out in the main worktree. */
async function commitOnMain(root: string, files: Record<string, string>, message: string): Promise<string> {
  for (const [name, text] of Object.entries(files)) await writeFile(join(root, name), text);
  gitOut(root, 'add', '-A');
  gitOut(root, 'commit', '--quiet', '-m', message);
  return gitOut(root, 'rev-parse', 'HEAD');
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Asserts no merge worktree is left: neither in git's list nor as a folder. */
async function assertNoMergeWorktree(root: string): Promise<void> {
  const folders = await readdir(join(root, '.orchestra', 'worktrees')).catch(() => []);
  assert.deepEqual(
    folders.filter((f) => f.startsWith('merge-')),
    [],
  );
}

describe('mergeResult', () => {
  const dirs: string[] = [];
  const repo = async () => {
    const root = await makeRepo();
    dirs.push(root);
    return root;
  };
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await removeDir(dir);
  });

  test('a clean merge whose checks pass lands on the checked-out base branch', async () => {
    const root = await repo();
    const branch = await makeResult(root, 'task-01', { 'feature.txt': 'feature\n' });
    const resultSha = gitOut(root, 'rev-parse', branch);
    // The base moves on after the attempt started: the checks must see both changes together.
    const oldBase = await commitOnMain(root, { 'other.txt': 'other\n' }, 'meanwhile on main');
    const output: string[] = [];

    const outcome = await merge({
      root,
      baseBranch: 'main',
      resultBranch: branch,
      checks: ['test -f other.txt', 'cat feature.txt'],
      setup: ['echo set up > setup-marker.txt'],
      message: 'orchestra: task-01 (attempt 1)',
      env: NO_GIT_ENV,
      onOutput: (chunk) => output.push(chunk),
    });

    assert.equal(outcome.merged, true, JSON.stringify(outcome));
    assert.ok(outcome.merged);
    assert.equal(gitOut(root, 'rev-parse', 'main'), outcome.commit);
    assert.equal(gitOut(root, 'rev-parse', `${outcome.commit}^1`), oldBase);
    assert.equal(gitOut(root, 'rev-parse', `${outcome.commit}^2`), resultSha);
    assert.equal(
      gitOut(root, 'log', '--merges', '-1', '--format=%s', 'main'),
      'orchestra: task-01 (attempt 1)',
    );
    assert.match(outcome.checkOutput, /\$ cat feature\.txt\nfeature\n/);
    assert.match(output.join(''), /\$ echo set up > setup-marker\.txt\n[\s\S]*\$ test -f other\.txt/);
    // The main worktree shows the merged files and nothing else changed in it.
    assert.equal(await readFile(join(root, 'feature.txt'), 'utf8'), 'feature\n');
    assert.equal(await exists(join(root, 'setup-marker.txt')), false);
    assert.equal(gitOut(root, 'status', '--porcelain'), '');
    await assertNoMergeWorktree(root);
  });

  test('a failing check leaves the base branch and its checkout untouched', async () => {
    const root = await repo();
    const branch = await makeResult(root, 'task-02', { 'feature.txt': 'broken\n' });
    const before = gitOut(root, 'rev-parse', 'main');

    const outcome = await merge({
      root,
      baseBranch: 'main',
      resultBranch: branch,
      checks: [
        'echo checking',
        'grep -q working feature.txt || { echo "feature is broken"; exit 3; }',
        'echo never',
      ],
      message: 'orchestra: task-02',
      env: NO_GIT_ENV,
    });

    assert.equal(outcome.merged, false);
    assert.ok(!outcome.merged);
    assert.equal(outcome.reason, 'checks-failed');
    assert.match(outcome.detail, /exit 3/);
    assert.match(outcome.checkOutput ?? '', /feature is broken/);
    assert.doesNotMatch(outcome.checkOutput ?? '', /never/);
    assert.equal(gitOut(root, 'rev-parse', 'main'), before);
    assert.equal(await exists(join(root, 'feature.txt')), false);
    await assertNoMergeWorktree(root);
  });

  test('a failing setup command is refused before any check runs', async () => {
    const root = await repo();
    const branch = await makeResult(root, 'task-03', { 'feature.txt': 'x\n' });
    const before = gitOut(root, 'rev-parse', 'main');
    const marker = join(await tempDir(), 'checked');
    dirs.push(join(marker, '..'));

    const outcome = await merge({
      root,
      baseBranch: 'main',
      resultBranch: branch,
      setup: ['echo installing; exit 7'],
      checks: [`touch '${marker}'`],
      message: 'orchestra: task-03',
    });

    assert.ok(!outcome.merged);
    assert.equal(outcome.reason, 'checks-failed');
    assert.match(outcome.detail, /setup command "echo installing; exit 7" failed \(exit 7\)/);
    assert.match(outcome.checkOutput ?? '', /installing/);
    assert.equal(await exists(marker), false);
    assert.equal(gitOut(root, 'rev-parse', 'main'), before);
  });

  test('a conflict leaves the base untouched and names the file; no check runs', async () => {
    const root = await repo();
    const branch = await makeResult(root, 'task-04', { 'README.md': 'hello\nattempt\n', 'new.txt': 'n\n' });
    const before = await commitOnMain(root, { 'README.md': 'hello\nmain\n' }, 'main edits README');
    const marker = join(await tempDir(), 'checked');
    dirs.push(join(marker, '..'));

    const outcome = await merge({
      root,
      baseBranch: 'main',
      resultBranch: branch,
      checks: [`touch '${marker}'`],
      message: 'orchestra: task-04',
    });

    assert.ok(!outcome.merged);
    assert.equal(outcome.reason, 'conflict');
    assert.deepEqual(outcome.files, ['README.md']);
    assert.match(outcome.detail, /conflicts in README\.md/);
    assert.equal(await exists(marker), false);
    assert.equal(gitOut(root, 'rev-parse', 'main'), before);
    assert.equal(await readFile(join(root, 'README.md'), 'utf8'), 'hello\nmain\n');
    assert.equal(gitOut(root, 'status', '--porcelain'), '');
    await assertNoMergeWorktree(root);
  });

  test('a commit on the checked-out base while the checks run makes it refuse with base-moved', async () => {
    const root = await repo();
    const branch = await makeResult(root, 'task-05', { 'feature.txt': 'f\n' });

    const outcome = await merge({
      root,
      baseBranch: 'main',
      resultBranch: branch,
      // The check itself commits on main in the main worktree: someone else's work landing meanwhile.
      checks: [`git -C '${root}' commit --quiet --allow-empty -m meanwhile`],
      message: 'orchestra: task-05',
      env: NO_GIT_ENV,
    });

    assert.ok(!outcome.merged);
    assert.equal(outcome.reason, 'base-moved');
    assert.equal(gitOut(root, 'log', '-1', '--format=%s', 'main'), 'meanwhile');
    assert.equal(await exists(join(root, 'feature.txt')), false);
    await assertNoMergeWorktree(root);
  });

  test('a base branch checked out nowhere moves by compare-and-swap, and refuses when it moved', async () => {
    const root = await repo();
    gitOut(root, 'checkout', '--quiet', '-b', 'elsewhere');
    const branch = await makeResult(root, 'task-06', { 'feature.txt': 'f\n' });

    const landed = await merge({
      root,
      baseBranch: 'main',
      resultBranch: branch,
      checks: ['test -f feature.txt'],
      message: 'orchestra: task-06',
    });
    assert.ok(landed.merged, JSON.stringify(landed));
    assert.equal(gitOut(root, 'rev-parse', 'main'), landed.commit);
    // The main worktree stays on its own branch, its files untouched.
    assert.equal(gitOut(root, 'symbolic-ref', '--short', 'HEAD'), 'elsewhere');
    assert.equal(await exists(join(root, 'feature.txt')), false);
    assert.match(gitOut(root, 'reflog', '-1', 'main'), /orchestra: merge orchestra\/task-06\/a1/);

    const second = await makeResult(root, 'task-07', { 'second.txt': 's\n' });
    const moved = await merge({
      root,
      baseBranch: 'main',
      resultBranch: second,
      checks: [`git -C '${root}' branch --force main main~1`],
      message: 'orchestra: task-07',
      env: NO_GIT_ENV,
    });
    assert.ok(!moved.merged);
    assert.equal(moved.reason, 'base-moved');
    assert.equal(gitOut(root, 'rev-parse', 'main'), gitOut(root, 'rev-parse', `${landed.commit}~1`));
  });

  test('a result that is already merged is refused as nothing-to-merge', async () => {
    const root = await repo();
    const branch = await makeResult(root, 'task-08', { 'feature.txt': 'f\n' });
    const first = await merge({
      root,
      baseBranch: 'main',
      resultBranch: branch,
      checks: [],
      message: 'm1',
    });
    assert.ok(first.merged);
    assert.equal(first.checkOutput, '');

    const again = await merge({
      root,
      baseBranch: 'main',
      resultBranch: branch,
      checks: [],
      message: 'm2',
    });
    assert.ok(!again.merged);
    assert.equal(again.reason, 'nothing-to-merge');
    assert.match(again.detail, /already merged into main/);
    assert.equal(gitOut(root, 'rev-parse', 'main'), first.commit);
  });

  test('a result whose changes are already on the base is refused as nothing-to-merge', async () => {
    const root = await repo();
    const branch = await makeResult(root, 'task-09', { 'feature.txt': 'same\n' });
    const before = await commitOnMain(root, { 'feature.txt': 'same\n' }, 'same change on main');

    const outcome = await merge({
      root,
      baseBranch: 'main',
      resultBranch: branch,
      checks: [],
      message: 'orchestra: task-09',
    });
    assert.ok(!outcome.merged);
    assert.equal(outcome.reason, 'nothing-to-merge');
    assert.equal(gitOut(root, 'rev-parse', 'main'), before);
    await assertNoMergeWorktree(root);
  });

  test('uncommitted changes to a file the merge touches refuse it; unrelated ones are kept', async () => {
    const root = await repo();
    const branch = await makeResult(root, 'task-10', {
      'README.md': 'hello\nworld\nmore\n',
      'feature.txt': 'f\n',
    });
    const before = gitOut(root, 'rev-parse', 'main');
    await writeFile(join(root, 'README.md'), 'my own edit\n');
    await writeFile(join(root, 'notes.txt'), 'untracked notes\n');

    const refused = await merge({
      root,
      baseBranch: 'main',
      resultBranch: branch,
      checks: ['true'],
      message: 'orchestra: task-10',
    });
    assert.ok(!refused.merged);
    assert.equal(refused.reason, 'dirty-worktree');
    assert.deepEqual(refused.files, ['README.md']);
    assert.match(refused.detail, /uncommitted changes to README\.md/);
    assert.equal(gitOut(root, 'rev-parse', 'main'), before);
    assert.equal(await readFile(join(root, 'README.md'), 'utf8'), 'my own edit\n');

    // An untracked file where the merge adds one is in the way too.
    gitOut(root, 'checkout', '--', 'README.md');
    await writeFile(join(root, 'feature.txt'), 'mine\n');
    const untracked = await merge({
      root,
      baseBranch: 'main',
      resultBranch: branch,
      checks: [],
      message: 'orchestra: task-10',
    });
    assert.ok(!untracked.merged);
    assert.equal(untracked.reason, 'dirty-worktree');
    assert.deepEqual(untracked.files, ['feature.txt']);

    // With only unrelated changes left, it lands and keeps them.
    await removeDir(join(root, 'feature.txt'));
    const landed = await merge({
      root,
      baseBranch: 'main',
      resultBranch: branch,
      checks: [],
      message: 'orchestra: task-10',
    });
    assert.ok(landed.merged, JSON.stringify(landed));
    assert.equal(await readFile(join(root, 'README.md'), 'utf8'), 'hello\nworld\nmore\n');
    assert.equal(await readFile(join(root, 'notes.txt'), 'utf8'), 'untracked notes\n');
    assert.equal(gitOut(root, 'status', '--porcelain'), '?? notes.txt');
  });

  test("a result that changes orchestra's own folder is refused, and nothing runs or lands", async () => {
    const root = await repo();
    const wt = await createWorktree({ root, taskId: 'task-11', n: 1, baseBranch: 'main' });
    // A strategy the server would import, committed past .orchestra/.gitignore.
    await writeFile(join(wt.path, 'feature.txt'), 'f\n');
    gitOut(wt.path, 'add', 'feature.txt');
    const dir = join(wt.path, '.orchestra', 'strategies');
    await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }));
    await writeFile(join(dir, 'pwn.mjs'), 'export const strategy = {};\n');
    gitOut(wt.path, 'add', '-f', '.orchestra/strategies/pwn.mjs');
    gitOut(wt.path, '-c', 'user.name=a', '-c', 'user.email=a@b', 'commit', '--quiet', '-m', 'strategy');
    assert.ok((await finishAttempt(root, wt, 'orchestra: task-11')).changed);
    const before = gitOut(root, 'rev-parse', 'main');
    const ran: string[] = [];
    const outcome = await merge({
      root,
      baseBranch: 'main',
      resultBranch: wt.branch,
      checks: ['true'],
      message: 'orchestra: task-11',
      onOutput: (chunk) => ran.push(chunk),
    });
    assert.ok(!outcome.merged);
    assert.equal(outcome.reason, 'protected-path');
    assert.deepEqual(outcome.files, ['.orchestra/strategies/pwn.mjs']);
    assert.deepEqual(ran, [], 'the gate did not run');
    assert.equal(gitOut(root, 'rev-parse', 'main'), before);
    await assert.rejects(access(join(root, '.orchestra', 'strategies', 'pwn.mjs')));
  });

  test('a missing result or base branch is an error, not a refusal', async () => {
    const root = await repo();
    await assert.rejects(
      merge({
        root,
        baseBranch: 'main',
        resultBranch: 'orchestra/task-99/a1',
        checks: [],
        message: 'm',
      }),
      (error) => isOrchestraError(error, 'GIT_FAILED') && /task-99/.test(error.message),
    );
    await assert.rejects(
      merge({ root, baseBranch: 'trunk', resultBranch: 'main', checks: [], message: 'm' }),
      (error) => isOrchestraError(error, 'BASE_BRANCH_MISSING'),
    );
    await assert.rejects(
      merge({ root, baseBranch: '--force', resultBranch: 'main', checks: [], message: 'm' }),
      (error) => isOrchestraError(error, 'GIT_FAILED') && /invalid base branch/.test(error.message),
    );
  });
});
