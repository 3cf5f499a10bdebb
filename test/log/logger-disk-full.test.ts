import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { LogFile } from '../../src/log/log-file.js';
import { createLogger } from '../../src/log/logger.js';
import { readLogLines } from '../support/log-lines.js';
import { fillDisk, tmpfsForTests } from '../support/tmpfs.js';

/**
 * A full disk under the log (issue 10: the server exited with "ENOSPC: no space left on device,
 * write at FileLogger.error"): lines are dropped, nothing throws, and logging recovers once there
 * is room again. On a real 256 KiB tmpfs filled to the last byte.
 */

const disk = tmpfsForTests();

describe('logging on a full disk', () => {
  it('drops lines without throwing, leaves no torn line and recovers when space returns', async (t) => {
    if (disk.skip) return t.skip(disk.skip);
    const file = path.join(disk.mnt, 'logs', 'orchestra.jsonl');
    const logger = createLogger(file, { component: 'server' });
    logger.info('before the disk filled');
    const filler = fillDisk(disk.mnt);
    // Enough to fill the log's last page and then some: at least one line is torn by ENOSPC.
    const padding = 'x'.repeat(200);
    for (let i = 0; i < 200; i++) {
      logger.error({ i, padding }, 'while the disk is full');
      logger.child({ component: 'scheduler' }).warn('a child logger too');
    }
    await rm(filler);
    logger.info('after the disk had room again');
    logger.close();

    const lines = await readLogLines(file);
    const messages = lines.map((l) => l.msg);
    assert.equal(messages[0], 'before the disk filled');
    // The first line written again, then the logger's own account of what was lost.
    assert.deepEqual(messages.slice(-2), [
      'after the disk had room again',
      'logging recovered after failed writes',
    ]);
    const recovered = lines.at(-1)!;
    assert.equal(recovered.level, 'warn');
    const written = lines.filter((l) => l.msg === 'while the disk is full' || l.msg === 'a child logger too');
    // A torn line is cut off again, which can leave room for a shorter one: logging may recover
    // briefly before the end; every stretch is accounted for.
    const dropped = lines
      .filter((l) => l.msg === 'logging recovered after failed writes')
      .reduce((sum, l) => sum + (l.droppedLines as number), 0);
    assert.ok(dropped > 0, 'some lines were dropped');
    assert.equal(dropped, 400 - written.length, 'every line not written is counted');
  });

  it('notes once that logging is degraded and once that it works again', async (t) => {
    if (disk.skip) return t.skip(disk.skip);
    const notes: string[] = [];
    const log = new LogFile(path.join(disk.mnt, 'notes.jsonl'), (note) => notes.push(note));
    const filler = fillDisk(disk.mnt);
    let dropped = 0;
    for (let i = 0; i < 100; i++) if (!log.write(`{"i":${i},"pad":"${'y'.repeat(100)}"}\n`)) dropped++;
    assert.ok(dropped > 0 && log.degraded);
    assert.equal(notes.length, 1);
    assert.match(notes[0]!, /degraded \(ENOSPC/);
    await rm(filler);
    assert.equal(log.write('{"i":"again"}\n'), true);
    assert.equal(log.degraded, false);
    assert.equal(notes.length, 2);
    assert.match(notes[1]!, new RegExp(`${dropped} line\\(s\\) were dropped`));
    const accounts: number[] = [];
    log.reportRecovery((n) => accounts.push(n));
    log.reportRecovery((n) => accounts.push(n));
    assert.deepEqual(accounts, [dropped], 'the loss is accounted for once');
    log.close();
    assert.equal(log.write('{"after":"close"}\n'), false);
  });
});
