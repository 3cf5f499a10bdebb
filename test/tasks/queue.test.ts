import assert from 'node:assert/strict';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { isOrchestraError } from '../../src/common/errors.js';
import { type OrchestraPaths, orchestraPaths } from '../../src/common/paths.js';
import { moveFile } from '../../src/tasks/move-file.js';
import {
  addTask,
  archiveTask,
  findTask,
  listTasks,
  nextTaskNumber,
  readQueue,
  rejectTaskFile,
  removeTask,
} from '../../src/tasks/queue.js';
import { MAX_TASK_FILE_BYTES, parseTaskFile } from '../../src/tasks/task-file.js';
import { validateTaskPaths } from '../../src/tasks/task-paths.js';
import { renderTaskResult } from '../../src/tasks/task-result.js';

let root: string;
let outside: string;
let paths: OrchestraPaths;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'orchestra-'));
  outside = await mkdtemp(path.join(os.tmpdir(), 'orchestra-outside-'));
  paths = orchestraPaths(root);
  await mkdir(paths.tasks, { recursive: true });
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

const task = (title: string, extra = '') => `# ${title}\n\n## Goal\n\nDo ${title}.\n${extra}`;
const put = (name: string, content: string | Uint8Array) => writeFile(path.join(paths.tasks, name), content);
const names = async (dir: string) => (await readdir(dir).catch(() => [] as string[])).sort();

describe('readQueue', () => {
  test('returns valid tasks in natural order and rejects each bad file with its reason', async () => {
    await put('task-10.md', task('ten'));
    await put('task-2.md', task('two'));
    await put('task-1.md', task('one', '\n## Files to touch\n- `src/a.ts`\n'));
    await put('task-3.md', '---\nn: [1,\n---\n## Goal\nx\n');
    await put('task-4.md', '---\nflavour: mint\n---\n## Goal\nx\n');
    await put('task-5.md', '');
    await put('task-6.md', Buffer.from('## Goal\n\0\x01\x02'));
    await put('task-7.md', Buffer.from([0x23, 0x23, 0x20, 0xff, 0xfe]));
    await put('task-8.md', `## Goal\n${'y'.repeat(MAX_TASK_FILE_BYTES)}`);
    await put('task-9.md', task('nine', '\n## Files to touch\n- `../x`\n'));
    await put('task-11.md', task('eleven', '\n## Files to touch\n- `/etc/passwd`\n'));
    await symlink(outside, path.join(root, 'link'));
    await put('task-12.md', task('twelve', '\n## Files to touch\n- `link/secret.ts`\n'));
    await writeFile(path.join(outside, 'task.md'), task('outside'));
    await symlink(path.join(outside, 'task.md'), path.join(paths.tasks, 'task-13.md'));
    await put('notes.md', task('notes'));
    await put('.task-14.md.swp', 'editor junk');
    await put('task-15.txt', 'not markdown');

    const { tasks, rejected } = await readQueue(paths);

    assert.deepEqual(
      tasks.map((t) => t.id),
      ['task-1', 'task-2', 'task-10'],
    );
    assert.deepEqual(tasks[0]!.files, ['src/a.ts']);
    const reasons = Object.fromEntries(rejected.map((r) => [path.basename(r.file), r.reason]));
    const expected: Record<string, RegExp> = {
      'task-3.md': /front matter is not valid YAML/,
      'task-4.md': /unknown key "flavour"/,
      'task-5.md': /file is empty/,
      'task-6.md': /binary/,
      'task-7.md': /not valid UTF-8/,
      'task-8.md': /over the 256 KiB limit/,
      'task-9.md': /outside the repository/,
      'task-11.md': /is absolute/,
      'task-12.md': /through a symlink/,
      'task-13.md': /symbolic link/,
      'notes.md': /not task-NN\.md/,
    };
    assert.deepEqual(Object.keys(reasons).sort(), Object.keys(expected).sort());
    for (const [name, pattern] of Object.entries(expected)) assert.match(reasons[name]!, pattern, name);

    // Only the good files (and files that are not task files at all) stay in the queue.
    assert.deepEqual(await names(paths.tasks), [
      '.task-14.md.swp',
      'task-1.md',
      'task-10.md',
      'task-15.txt',
      'task-2.md',
    ]);
    for (const r of rejected) {
      assert.equal(r.movedTo, path.join(paths.rejected, path.basename(r.file)));
      assert.ok(existsSync(r.movedTo!), `${r.movedTo} exists`);
      const note = await readFile(r.errorFile!, 'utf8');
      assert.equal(r.errorFile, `${r.movedTo}.error.txt`);
      assert.ok(note.includes(`reason: ${r.reason}`), note);
      assert.match(note, /at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/);
    }
    // The symlink was moved as a link; its target outside the repository is untouched.
    assert.ok(statSync(path.join(outside, 'task.md')).isFile());
    // The huge file arrived whole in rejected/.
    assert.equal((await stat(path.join(paths.rejected, 'task-8.md'))).size, MAX_TASK_FILE_BYTES + 8);
  });

  test('a missing queue folder is an empty queue', async () => {
    await rm(paths.tasks, { recursive: true });
    assert.deepEqual(await readQueue(paths), { tasks: [], rejected: [] });
  });

  test('a second rejection of the same name gets -2 and its own note', async () => {
    await put('task-05.md', 'first');
    const first = await rejectTaskFile(paths, 'task-05.md', 'first reason');
    await put('task-05.md', 'second');
    const second = await rejectTaskFile(paths, path.join(paths.tasks, 'task-05.md'), 'second reason');
    assert.equal(path.basename(first.movedTo!), 'task-05.md');
    assert.equal(path.basename(second.movedTo!), 'task-05-2.md');
    assert.equal(await readFile(first.movedTo!, 'utf8'), 'first');
    assert.equal(await readFile(second.movedTo!, 'utf8'), 'second');
    assert.match(await readFile(second.errorFile!, 'utf8'), /reason: second reason/);
    assert.match(await readFile(first.errorFile!, 'utf8'), /reason: first reason/);
  });
});

describe('addTask', () => {
  test('numbers past every number used in tasks/, done/, failed/ and rejected/', async () => {
    await mkdir(paths.done, { recursive: true });
    await mkdir(paths.failed, { recursive: true });
    await mkdir(paths.rejected, { recursive: true });
    await put('task-02.md', task('two'));
    await writeFile(path.join(paths.done, 'task-07-2024-12-31-23-59.md'), task('seven'));
    await writeFile(path.join(paths.failed, 'task-09-2025-01-01-00-00-2.md'), task('nine'));
    await writeFile(path.join(paths.rejected, 'task-12.md'), 'junk');
    await writeFile(path.join(paths.rejected, 'task-12.md.error.txt'), 'reason: junk');
    await writeFile(path.join(paths.rejected, 'task-99.md.error.txt'), 'a note alone does not use a number');
    assert.equal(await nextTaskNumber(paths), 13);

    const added = await addTask(paths, { title: 'Thirteen', goal: 'Be thirteen.', accept: ['it is'] });
    assert.deepEqual(added, { id: 'task-13', path: path.join(paths.tasks, 'task-13.md') });
    const parsed = parseTaskFile(await readFile(added.path, 'utf8'), { id: 'task-13' });
    assert.equal(parsed.title, 'Thirteen');
    assert.deepEqual(parsed.acceptance, [{ text: 'it is', done: false }]);
    assert.match(await readFile(added.path, 'utf8'), /^# task-13: Thirteen$/m);
    // No temporary file is left behind.
    assert.deepEqual(await names(paths.tasks), ['task-02.md', 'task-13.md']);
  });

  test('five concurrent adds get five distinct ids, each with its own content', async () => {
    const titles = ['a', 'b', 'c', 'd', 'e'];
    const results = await Promise.all(
      titles.map((title) => addTask(paths, { title, goal: `goal ${title}` })),
    );
    const ids = results.map((r) => r.id);
    assert.equal(new Set(ids).size, 5, ids.join(','));
    assert.deepEqual([...ids].sort(), ['task-01', 'task-02', 'task-03', 'task-04', 'task-05']);
    for (const [i, r] of results.entries()) {
      assert.equal(parseTaskFile(await readFile(r.path, 'utf8'), { id: r.id }).goal, `goal ${titles[i]}`);
    }
    assert.equal((await names(paths.tasks)).length, 5);
  });

  test('raw text is kept byte for byte; bad text or an escaping path writes nothing', async () => {
    const text = '---\nstrategy: refine\n---\n# My task\n\n## Goal\n\nRefine it.   \n';
    const added = await addTask(paths, { text });
    assert.equal(await readFile(added.path, 'utf8'), text);

    await assert.rejects(addTask(paths, { text: '---\nbogus: 1\n---\n## Goal\nx' }), (e) =>
      isOrchestraError(e, 'TASK_INVALID'),
    );
    await assert.rejects(addTask(paths, { text: '# no goal' }), (e) => isOrchestraError(e, 'TASK_INVALID'));
    await assert.rejects(addTask(paths, { title: 't', goal: 'g', files: ['../../etc/passwd'] }), (e) =>
      isOrchestraError(e, 'PATH_ESCAPE'),
    );
    assert.deepEqual(await names(paths.tasks), [path.basename(added.path)]);
  });
});

describe('archiveTask', () => {
  const when = new Date(Date.UTC(2025, 0, 31, 9, 5, 59));

  test('moves to done/ with a UTC name and a Result section; a second archive gets -2', async () => {
    await put('task-03.md', task('three'));
    const { path: archived } = await archiveTask(
      paths,
      'task-03',
      'done',
      {
        branch: 'orchestra/task-03/a2',
        commit: 'abc1234',
        attempts: 2,
        durationMs: 252_000,
        costUsd: 1.234,
        candidates: [
          { attempt: 1, check: 'fail', score: 0.2 },
          { attempt: 2, check: 'pass', score: 0.9, chosen: true },
        ],
        checkOutput: 'ok 1\nok 2\n',
      },
      when,
    );
    assert.equal(archived, path.join(paths.done, 'task-03-2025-01-31-09-05.md'));
    assert.ok(!existsSync(path.join(paths.tasks, 'task-03.md')));
    const text = await readFile(archived, 'utf8');
    assert.ok(text.startsWith(task('three')), 'original content kept');
    assert.match(text, /\n\n## Result\n\n- status: succeeded\n/);
    assert.match(text, /^- branch: `orchestra\/task-03\/a2`$/m);
    assert.match(text, /^- commit: `abc1234`$/m);
    assert.match(text, /^- attempts: 2$/m);
    assert.match(text, /^- duration: 4m 12s \(252000 ms\)$/m);
    assert.match(text, /^- cost: \$1\.23 USD$/m);
    assert.match(text, /^\| 2 \| pass \| 0\.9 \| yes \|$/m);
    assert.match(text, /```text\nok 1\nok 2\n```\n$/);
    // The archived file still parses as the task it was.
    assert.equal(parseTaskFile(text, { id: 'task-03' }).title, 'three');

    await put('task-03.md', task('three again'));
    const second = await archiveTask(paths, 'task-03', 'done', { attempts: 1, durationMs: 10 }, when);
    assert.equal(second.path, path.join(paths.done, 'task-03-2025-01-31-09-05-2.md'));
    assert.ok((await readFile(archived, 'utf8')).includes('Do three.'), 'first archive untouched');
    assert.match(await readFile(second.path, 'utf8'), /- cost: unknown/);
  });

  test('failed: reason, and only the last 40 lines of check output', async () => {
    await put('task-04.md', task('four'));
    const output = Array.from({ length: 100 }, (_, i) => `\x1b[31mline ${i + 1}\x1b[0m`).join('\n');
    const { path: archived } = await archiveTask(
      paths,
      'task-04',
      'failed',
      { attempts: 3, durationMs: 500, reason: 'checks failed:\n npm test exited 1', checkOutput: output },
      when,
    );
    assert.equal(path.dirname(archived), paths.failed);
    const text = await readFile(archived, 'utf8');
    assert.match(text, /^- status: failed$/m);
    assert.match(text, /^- reason: checks failed: npm test exited 1$/m);
    assert.match(text, /^- duration: 500 ms \(500 ms\)$/m);
    assert.ok(text.includes('line 61\n') && text.includes('line 100\n'));
    assert.ok(!text.includes('line 60\n'), 'line 60 is outside the last 40');
    assert.ok(!text.includes('\x1b'), 'no escape sequences');
  });

  test('a task that is not queued is TASK_NOT_FOUND', async () => {
    await assert.rejects(archiveTask(paths, 'task-42', 'done', { attempts: 1, durationMs: 1 }), (e) =>
      isOrchestraError(e, 'TASK_NOT_FOUND'),
    );
  });

  test('renderTaskResult fences output that itself contains a fence', () => {
    const section = renderTaskResult(
      'done',
      { attempts: 1, durationMs: 1, checkOutput: '```\ninner\n```' },
      when,
    );
    assert.match(section, /````text\n```\ninner\n```\n````\n$/);
  });
});

describe('listTasks, findTask, removeTask', () => {
  test('lists by state in natural order and finds tasks by any reference', async () => {
    await put('task-10.md', task('ten'));
    await put('task-2.md', task('two'));
    await put('task-3.md', '---\nstrategy: refine\n---\n# three\n## Goal\nx\n');
    await put('task-4.md', '## Goal\n');
    await put('task-07.md', task('seven'));
    await archiveTask(paths, 'task-07', 'failed', { attempts: 1, durationMs: 1, reason: 'it broke' });
    await put('task-08.md', task('eight'));
    await archiveTask(paths, 'task-08', 'done', { attempts: 1, durationMs: 1 });
    await put('task-09.md', '---\nnope: 1\n---\n## Goal\nx');
    await readQueue(paths);

    const queued = await listTasks(paths);
    assert.deepEqual(
      queued.map((e) => [e.id, e.state]),
      [
        ['task-2', 'queued'],
        ['task-3', 'queued'],
        ['task-10', 'queued'],
      ],
    );
    assert.equal(queued[1]!.strategy, 'refine');
    assert.equal(queued[1]!.title, 'three');

    const all = await listTasks(paths, { all: true });
    assert.deepEqual(
      all.map((e) => [e.id, e.state]),
      [
        ['task-2', 'queued'],
        ['task-3', 'queued'],
        ['task-10', 'queued'],
        ['task-08', 'done'],
        ['task-07', 'failed'],
        ['task-4', 'rejected'],
        ['task-09', 'rejected'],
      ],
    );
    assert.equal(all.find((e) => e.id === 'task-07')!.error, 'it broke');
    assert.equal(all.find((e) => e.id === 'task-08')!.title, 'eight');
    assert.match(all.find((e) => e.id === 'task-09')!.error!, /unknown key "nope"/);

    for (const ref of ['3', '03', 'task-3', 'task-03'])
      assert.equal((await findTask(paths, ref))?.id, 'task-3', ref);
    assert.equal((await findTask(paths, '7'))?.state, 'failed');
    assert.equal((await findTask(paths, 'task-8'))?.state, 'done');
    assert.equal((await findTask(paths, '9'))?.state, 'rejected');
    assert.equal(await findTask(paths, '55'), undefined);
    assert.equal(await findTask(paths, 'banana'), undefined);

    const removed = await removeTask(paths, '10');
    assert.equal(removed.id, 'task-10');
    assert.ok(!existsSync(path.join(paths.tasks, 'task-10.md')));
    for (const ref of ['10', '7']) {
      await assert.rejects(removeTask(paths, ref), (e) => {
        assert.ok(isOrchestraError(e, 'TASK_NOT_FOUND'));
        assert.match(e.hint!, /orchestra task ls/);
        return true;
      });
    }
    await assert.rejects(removeTask(paths, '7'), /task-07 is not queued \(it is failed\)/);
  });

  test('a queued file that will be rejected is listed with its reason, and not moved by listing', async () => {
    await put('task-01.md', '---\nn: 99\n---\n## Goal\nx');
    const [entry] = await listTasks(paths);
    assert.match(entry!.error!, /"n" must be an integer from 1 to 16/);
    assert.ok(existsSync(path.join(paths.tasks, 'task-01.md')));
  });
});

describe('findTask across archives', () => {
  test('picks the newest archive: UTC stamp, then collision suffix, then modification time', async () => {
    const archive = async (outcome: 'done' | 'failed', iso: string) => {
      await put('task-05.md', task('five'));
      return (await archiveTask(paths, 'task-05', outcome, { attempts: 1, durationMs: 1 }, new Date(iso)))
        .path;
    };
    const latest = async () => path.relative(paths.dir, (await findTask(paths, '5'))!.file);
    await archive('done', '2025-03-01T10:00:00Z');
    await archive('failed', '2025-03-02T10:00:00Z');
    assert.equal(await latest(), 'failed/task-05-2025-03-02-10-00.md');
    // Same minute in done/: the names tie, the later write wins.
    await archive('done', '2025-03-02T10:00:30Z');
    assert.equal(await latest(), 'done/task-05-2025-03-02-10-00.md');
    await archive('failed', '2025-03-02T10:00:40Z');
    assert.equal(await latest(), 'failed/task-05-2025-03-02-10-00-2.md');
  });
});

describe('moveFile', () => {
  test('never overwrites: EEXIST and both files intact', async () => {
    const src = path.join(root, 'a.md');
    const dst = path.join(root, 'b.md');
    await writeFile(src, 'source');
    await writeFile(dst, 'destination');
    await assert.rejects(moveFile(src, dst), { code: 'EEXIST' });
    assert.equal(await readFile(src, 'utf8'), 'source');
    assert.equal(await readFile(dst, 'utf8'), 'destination');
    await moveFile(src, path.join(root, 'c.md'));
    assert.ok(!existsSync(src));
    assert.equal(await readFile(path.join(root, 'c.md'), 'utf8'), 'source');
    await assert.rejects(moveFile(src, path.join(root, 'd.md')), { code: 'ENOENT' });
  });

  const shm = '/dev/shm';
  const crossDevice = existsSync(shm) && statSync(shm).dev !== statSync(os.tmpdir()).dev;
  test('across file systems (EXDEV) it copies, and still never overwrites', {
    skip: !crossDevice,
  }, async () => {
    const other = await mkdtemp(path.join(shm, 'orchestra-'));
    try {
      const src = path.join(root, 'task.md');
      await writeFile(src, 'moved across');
      await writeFile(path.join(other, 'taken.md'), 'keep me');
      await assert.rejects(moveFile(src, path.join(other, 'taken.md')), { code: 'EEXIST' });
      assert.equal(await readFile(path.join(other, 'taken.md'), 'utf8'), 'keep me');
      assert.ok(existsSync(src));
      await moveFile(src, path.join(other, 'task.md'));
      assert.equal(await readFile(path.join(other, 'task.md'), 'utf8'), 'moved across');
      assert.ok(!existsSync(src));
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});

describe('validateTaskPaths', () => {
  test('confines Files to touch to the repository', async () => {
    await mkdir(path.join(root, 'src'), { recursive: true });
    await symlink(outside, path.join(root, 'src', 'escape'));
    const ok = validateTaskPaths({ id: 'task-01', files: ['src/a.ts', 'new/dir/b.ts', './c.ts'] }, root);
    assert.equal(ok.length, 3);
    for (const p of ok) assert.ok(p.startsWith(`${realpathSync(root)}${path.sep}`), p);
    for (const [file, pattern] of [
      ['../x', /outside the repository/],
      ['src/../../x', /outside the repository/],
      ['/etc/passwd', /absolute/],
      ['src/escape/secret.ts', /through a symlink/],
    ] as const) {
      assert.throws(
        () => validateTaskPaths({ id: 'task-01', files: ['src/a.ts', file] }, root),
        (e) =>
          isOrchestraError(e, 'PATH_ESCAPE') && pattern.test(e.message) && e.message.startsWith('task-01: '),
        file,
      );
    }
  });
});
