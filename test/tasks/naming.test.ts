import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  archiveFileName,
  compareTaskIds,
  formatTaskId,
  suffixedFileName,
  taskIdFromFileName,
  taskIdFromQueueFileName,
  taskNumber,
  taskNumberFromRef,
} from '../../src/tasks/naming.js';

test('natural order: task-2 before task-10, for ids and file names', () => {
  assert.deepEqual(['task-10', 'task-2', 'task-1', 'task-03'].sort(compareTaskIds), [
    'task-1',
    'task-2',
    'task-03',
    'task-10',
  ]);
  assert.deepEqual(['task-10.md', 'task-9.md', 'task-100.md'].sort(compareTaskIds), [
    'task-9.md',
    'task-10.md',
    'task-100.md',
  ]);
  // Equal numbers still order one way, so sorting is repeatable.
  assert.equal(
    Math.sign(compareTaskIds('task-3', 'task-03')),
    -Math.sign(compareTaskIds('task-03', 'task-3')),
  );
  assert.notEqual(compareTaskIds('task-3', 'task-03'), 0);
});

test('ids: number, formatting with two digits minimum, references', () => {
  assert.equal(taskNumber('task-07'), 7);
  assert.equal(taskNumber('task-123'), 123);
  assert.equal(taskNumber('notes'), undefined);
  assert.equal(formatTaskId(3), 'task-03');
  assert.equal(formatTaskId(42), 'task-42');
  assert.equal(formatTaskId(123), 'task-123');
  assert.throws(() => formatTaskId(0));
  assert.throws(() => formatTaskId(1.5));
  for (const ref of ['3', '03', 'task-3', 'task-03', 'task-03.md'])
    assert.equal(taskNumberFromRef(ref), 3, ref);
  assert.equal(taskNumberFromRef('three'), undefined);
  assert.equal(taskNumberFromRef('0'), undefined);
});

test('archive names are UTC', () => {
  // 23:59 on 31 Dec in UTC is already 1 Jan in UTC+1 and still 31 Dec in UTC-5: only UTC is used.
  const date = new Date(Date.UTC(2024, 11, 31, 23, 59, 30));
  assert.equal(archiveFileName('task-03', date), 'task-03-2024-12-31-23-59.md');
  assert.equal(
    archiveFileName('task-123', new Date('2025-02-03T04:05:06+02:00')),
    'task-123-2025-02-03-02-05.md',
  );
});

test('file names map back to task ids', () => {
  assert.equal(taskIdFromFileName('task-03.md'), 'task-03');
  assert.equal(taskIdFromFileName('task-03-2024-12-31-23-59.md'), 'task-03');
  assert.equal(taskIdFromFileName('task-03-2024-12-31-23-59-2.md'), 'task-03');
  assert.equal(taskIdFromFileName('task-03-2.md'), 'task-03');
  assert.equal(taskIdFromFileName('task-03.md.error.txt'), undefined);
  assert.equal(taskIdFromFileName('notes.md'), undefined);
  assert.equal(taskIdFromFileName('task-x.md'), undefined);
  assert.equal(taskIdFromQueueFileName('task-03.md'), 'task-03');
  assert.equal(taskIdFromQueueFileName('task-03-2.md'), undefined);
  assert.equal(suffixedFileName('task-03.md', 1), 'task-03.md');
  assert.equal(suffixedFileName('task-03.md', 3), 'task-03-3.md');
});
