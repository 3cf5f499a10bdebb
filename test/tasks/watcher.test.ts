import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type OrchestraPaths, orchestraPaths } from '../../src/common/paths.js';
import type { Rejection } from '../../src/tasks/queue.js';
import { addTask } from '../../src/tasks/queue.js';
import type { TaskFile } from '../../src/tasks/task-file.js';
import { type QueueWatcher, watchQueue } from '../../src/tasks/watcher.js';

let root: string;
let paths: OrchestraPaths;
let watcher: QueueWatcher | undefined;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'orchestra-'));
  paths = orchestraPaths(root);
  await mkdir(paths.tasks, { recursive: true });
});

afterEach(async () => {
  await watcher?.close();
  watcher = undefined;
  await rm(root, { recursive: true, force: true });
});

/** Everything a watcher reported, in order, as `kind:detail` strings plus the payloads. */
function record(w: QueueWatcher) {
  const log: string[] = [];
  const added: TaskFile[] = [];
  const changed: TaskFile[] = [];
  const rejected: Rejection[] = [];
  const errors: unknown[] = [];
  w.onAdded((t) => {
    added.push(t);
    log.push(`added:${t.id}`);
  });
  w.onChanged((t) => {
    changed.push(t);
    log.push(`changed:${t.id}`);
  });
  w.onRemoved((id) => log.push(`removed:${id}`));
  w.onRejected((r) => {
    rejected.push(r);
    log.push(`rejected:${path.basename(r.file)}`);
  });
  w.onError((e) => errors.push(e));
  return { log, added, changed, rejected, errors };
}

async function waitFor(what: string, predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const task = (title: string) => `# ${title}\n\n## Goal\n\nDo ${title}.\n`;
/** Backdates a file so the watcher's start treats it as finished, not as still being written. */
async function settled(file: string, content: string): Promise<void> {
  await writeFile(file, content);
  const past = new Date(Date.now() - 60_000);
  await utimes(file, past, past);
}

test('files present at start are reported as added, in natural order, before ready(); bad ones rejected', async () => {
  await settled(path.join(paths.tasks, 'task-10.md'), task('ten'));
  await settled(path.join(paths.tasks, 'task-2.md'), task('two'));
  await settled(path.join(paths.tasks, 'task-1.md'), task('one'));
  await settled(path.join(paths.tasks, 'task-3.md'), '---\nwhat: ever\n---\n## Goal\nx');

  watcher = watchQueue(paths);
  const seen = record(watcher);
  await watcher.ready();

  assert.deepEqual(seen.log, ['added:task-1', 'added:task-2', 'rejected:task-3.md', 'added:task-10']);
  assert.match(seen.rejected[0]!.reason, /unknown key "what"/);
  assert.ok(existsSync(path.join(paths.rejected, 'task-3.md')));
  assert.ok(existsSync(path.join(paths.rejected, 'task-3.md.error.txt')));
  assert.deepEqual(
    watcher.tasks().map((t) => t.id),
    ['task-1', 'task-2', 'task-10'],
  );
  // The rejection's own unlink event must not turn into a "removed".
  await sleep(500);
  assert.deepEqual(seen.log, ['added:task-1', 'added:task-2', 'rejected:task-3.md', 'added:task-10']);
  assert.deepEqual(seen.errors, []);
});

test('a file written in 3 chunks 100 ms apart is reported once, complete', async () => {
  watcher = watchQueue(paths);
  const seen = record(watcher);
  await watcher.ready();

  const handle = await open(path.join(paths.tasks, 'task-01.md'), 'w');
  // Read after the first chunk alone, the file has no Goal and would be rejected.
  await handle.write('---\nstrategy: refine\n---\n# Chunked\n\n');
  await sleep(100);
  await handle.write('## Goal\n\nPart one');
  await sleep(100);
  await handle.write(' and part two.\n');
  await handle.close();

  await waitFor('the added event', () => seen.log.length > 0);
  await sleep(700);
  assert.deepEqual(seen.log, ['added:task-01']);
  assert.equal(seen.added[0]!.goal, 'Part one and part two.');
  assert.equal(seen.added[0]!.meta.strategy, 'refine');
  assert.ok(existsSync(path.join(paths.tasks, 'task-01.md')));
});

test('changes, removals, rejections of edited files, and it carries on after a bad file', async () => {
  watcher = watchQueue(paths, { debounceMs: 100 });
  const seen = record(watcher);
  await watcher.ready();

  const added = await addTask(paths, { title: 'First', goal: 'one' });
  await waitFor('added', () => seen.log.includes(`added:${added.id}`));

  // Same content again: nothing to report.
  await writeFile(added.path, await readFile(added.path));
  await writeFile(added.path, (await readFile(added.path, 'utf8')).replace('one', 'one, revised'));
  await waitFor('changed', () => seen.log.includes(`changed:${added.id}`));
  assert.equal(seen.changed.at(-1)!.goal, 'one, revised');

  await writeFile(path.join(paths.tasks, 'task-05.md'), Buffer.from([0x00, 0x01, 0x02]));
  await waitFor('rejected binary', () => seen.log.includes('rejected:task-05.md'));
  assert.match(seen.rejected.at(-1)!.reason, /binary/);

  const second = await addTask(paths, { title: 'Second', goal: 'two' });
  await waitFor('second added', () => seen.log.includes(`added:${second.id}`));
  assert.equal(second.id, 'task-06', 'the rejected number is not reused');

  // A known task edited into an invalid one leaves the queue: removed, then rejected.
  await writeFile(second.path, '# Second\n\nno goal any more\n');
  await waitFor('rejected edit', () => seen.log.includes('rejected:task-06.md'));
  assert.ok(existsSync(path.join(paths.rejected, 'task-06.md')));

  await unlink(added.path);
  await waitFor('removed', () => seen.log.includes(`removed:${added.id}`));

  await sleep(300);
  assert.deepEqual(seen.log, [
    `added:${added.id}`,
    `changed:${added.id}`,
    'rejected:task-05.md',
    'added:task-06',
    'removed:task-06',
    'rejected:task-06.md',
    `removed:${added.id}`,
  ]);
  assert.deepEqual(watcher.tasks(), []);
  assert.deepEqual(seen.errors, []);
});

test('ignores dotfiles, other extensions and subfolders; reports nothing after close()', async () => {
  watcher = watchQueue(paths, { debounceMs: 50 });
  const seen = record(watcher);
  await watcher.ready();
  await writeFile(path.join(paths.tasks, '.task-07.md'), task('hidden'));
  await writeFile(path.join(paths.tasks, 'task-07.md.swp'), task('swap'));
  await mkdir(path.join(paths.tasks, 'task-08.md'));
  await writeFile(path.join(paths.tasks, 'task-08.md', 'task-09.md'), task('nested'));
  await writeFile(path.join(paths.tasks, 'task-10.md'), task('ten'));
  await waitFor('added', () => seen.log.length > 0);
  await sleep(300);
  assert.deepEqual(seen.log, ['added:task-10']);

  await watcher.close();
  await writeFile(path.join(paths.tasks, 'task-11.md'), task('eleven'));
  await sleep(500);
  assert.deepEqual(seen.log, ['added:task-10']);
  assert.ok(existsSync(path.join(paths.tasks, 'task-11.md')));
});
