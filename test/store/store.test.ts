import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { isOrchestraError } from '../../src/common/errors.js';
import { orchestraPaths } from '../../src/common/paths.js';
import { isStateTooNew } from '../../src/store/migrations.js';
import { addAttempt, upsertTask } from '../../src/store/records.js';
import { emptyState, stateSchema } from '../../src/store/schema.js';
import { type CorruptStateInfo, StateStore } from '../../src/store/store.js';

const WORKER = fileURLToPath(new URL('./fixtures/store-worker.ts', import.meta.url));
const CORRUPT_NAME = /^state\.json\.corrupt-\d{8}T\d{6}Z(-\d+)?$/;

let tmp: string;
let counter = 0;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'orchestra-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A fresh repository root with no `.orchestra/` yet; returns its state path. */
async function freshStatePath(): Promise<string> {
  const root = path.join(tmp, `repo-${++counter}`);
  await mkdir(root);
  return orchestraPaths(root).state;
}

async function corruptSiblings(statePath: string): Promise<string[]> {
  const names = await readdir(path.dirname(statePath));
  return names.filter((n) => n.startsWith('state.json.corrupt-')).sort();
}

/** Opens a store on a file holding `bytes`, recording every onCorrupt call. */
async function openOn(bytes: string) {
  const statePath = await freshStatePath();
  await mkdir(path.dirname(statePath), { recursive: true });
  await writeFile(statePath, bytes);
  const reports: CorruptStateInfo[] = [];
  const store = await StateStore.open(statePath, { onCorrupt: (info) => reports.push(info) });
  return { statePath, store, reports };
}

async function assertMovedAside(bytes: string, reasonPattern: RegExp): Promise<void> {
  const { statePath, store, reports } = await openOn(bytes);
  assert.deepEqual(store.read(), emptyState());
  assert.equal(reports.length, 1);
  const [report] = reports;
  assert.equal(report!.path, statePath);
  assert.match(path.basename(report!.movedTo), CORRUPT_NAME);
  assert.equal(path.dirname(report!.movedTo), path.dirname(statePath));
  assert.match(report!.reason, reasonPattern);
  assert.equal(await readFile(report!.movedTo, 'utf8'), bytes, 'the moved file keeps the original bytes');
  await assert.rejects(readFile(statePath), { code: 'ENOENT' }, 'no empty file is written in its place');
  // The next update starts from the empty state and creates a valid file.
  await store.update((d) => {
    upsertTask(d, { id: 'task-01' });
  });
  const written = stateSchema.parse(JSON.parse(await readFile(statePath, 'utf8')));
  assert.deepEqual(Object.keys(written.tasks), ['task-01']);
  await store.close();
}

interface WorkerSpec {
  count: number;
  tag: string;
  pad?: number;
}

/** Spawns one store-worker process per spec, releases them together and resolves when all exit 0. */
async function runWorkers(
  statePath: string,
  specs: WorkerSpec[],
  whileRunning?: (finished: () => boolean) => Promise<void>,
) {
  const children: ChildProcess[] = specs.map((spec) =>
    spawn(
      process.execPath,
      ['--import', 'tsx', WORKER, statePath, String(spec.count), spec.tag, String(spec.pad ?? 0)],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    ),
  );
  const exits = children.map(async (child) => {
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0, `worker failed: ${stderr}`);
  });
  await Promise.all(
    children.map(async (child) => {
      let out = '';
      while (!out.includes('ready')) {
        const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
        out += chunk.toString();
      }
    }),
  );
  for (const child of children) child.stdin!.end('go\n');
  let finished = false;
  const done = Promise.all(exits).finally(() => {
    finished = true;
  });
  try {
    if (whileRunning) await whileRunning(() => finished);
  } finally {
    await done;
  }
}

describe('StateStore', () => {
  it('starts empty on a missing file, creates it on the first update and round-trips it', async () => {
    const statePath = await freshStatePath();
    const store = await StateStore.open(statePath);
    assert.deepEqual(store.read(), emptyState());
    await assert.rejects(readFile(statePath), { code: 'ENOENT' }, 'open alone does not create the file');

    const createdAt = '2025-05-01T12:00:00.000Z';
    const returned = await store.update((d) => {
      d.session.name = 'demo';
      d.session.layout = { kind: 'main-vertical', zoomed: true, focus: 'p1' };
      d.session.panes.push({
        id: 'p1',
        name: 'task-01-a1',
        kind: 'agent',
        command: ['orchestra', 'agent'],
        cwd: '/repo/.orchestra/worktrees/task-01-a1',
        attemptId: 'task-01-a1',
        createdAt,
      });
      upsertTask(d, { id: 'task-01', strategy: 'best-of-n', costUsd: 0.25 });
      addAttempt(d, {
        id: 'task-01-a1',
        taskId: 'task-01',
        n: 1,
        branch: 'orchestra/task-01/a1',
        worktree: '/repo/.orchestra/worktrees/task-01-a1',
        runDir: '/repo/.orchestra/runs/task-01-a1',
        sandbox: 'docker',
        workerId: 'abc123',
      });
      d.checkpoints['task-01-a1'] = {
        path: '/repo/.orchestra/runs/task-01-a1/checkpoint.json',
        turn: 3,
        updatedAt: createdAt,
      };
      return 'done';
    });
    assert.equal(returned, 'done');
    await store.close();

    const onDisk = JSON.parse(await readFile(statePath, 'utf8'));
    assert.equal(onDisk.version, 1);
    const reopened = await StateStore.open(statePath);
    assert.deepEqual(reopened.read(), store.read());
    assert.equal(reopened.read().session.panes[0]?.attemptId, 'task-01-a1');
    assert.equal(reopened.read().tasks['task-01']?.strategy, 'best-of-n');
    assert.deepEqual(reopened.read().tasks['task-01']?.attempts, ['task-01-a1']);
    assert.equal(reopened.read().attempts['task-01-a1']?.workerId, 'abc123');
    assert.equal(reopened.read().checkpoints['task-01-a1']?.turn, 3);
    await reopened.close();
  });

  it('hands out a frozen snapshot', async () => {
    const statePath = await freshStatePath();
    const store = await StateStore.open(statePath);
    await store.update((d) => {
      upsertTask(d, { id: 'task-01' });
    });
    const snapshot = store.read() as unknown as ReturnType<typeof emptyState>;
    assert.throws(() => {
      snapshot.tasks['task-01']!.state = 'failed';
    }, TypeError);
    assert.throws(() => {
      snapshot.session.panes.push({
        id: 'x',
        name: 'x',
        kind: 'shell',
        command: [],
        cwd: '/',
        createdAt: '',
      });
    }, TypeError);
    assert.equal(store.read().tasks['task-01']?.state, 'queued');
    await store.close();
  });

  it('moves a file with bad JSON aside, keeps its bytes and starts empty', async () => {
    await assertMovedAside('{"version": 1, "tasks": {', /not valid JSON/);
  });

  it('moves a file that does not match the schema aside', async () => {
    const bad = emptyState() as unknown as Record<string, unknown>;
    bad.tasks = {
      'task-01': {
        id: 'task-01',
        state: 'exploded',
        strategy: 'single',
        attempts: [],
        createdAt: '2025-05-01T12:00:00.000Z',
        updatedAt: '2025-05-01T12:00:00.000Z',
      },
    };
    await assertMovedAside(JSON.stringify(bad), /tasks\.task-01\.state/);
  });

  it('treats an empty file as corrupt', async () => {
    await assertMovedAside('', /empty/);
  });

  it('gives each corrupt file its own name', async () => {
    const { statePath, store, reports } = await openOn('not json');
    await writeFile(statePath, 'still not json');
    await store.reload();
    assert.equal(reports.length, 2);
    assert.notEqual(reports[0]!.movedTo, reports[1]!.movedTo);
    assert.deepEqual(await corruptSiblings(statePath), reports.map((r) => path.basename(r.movedTo)).sort());
    assert.equal(await readFile(reports[0]!.movedTo, 'utf8'), 'not json');
    assert.equal(await readFile(reports[1]!.movedTo, 'utf8'), 'still not json');
    await store.close();
  });

  it('refuses a file from a newer orchestra and leaves it where it is', async () => {
    const statePath = await freshStatePath();
    await mkdir(path.dirname(statePath), { recursive: true });
    const bytes = JSON.stringify({ ...emptyState(), version: 2, newField: true });
    await writeFile(statePath, bytes);
    const reports: CorruptStateInfo[] = [];
    await assert.rejects(StateStore.open(statePath, { onCorrupt: (i) => reports.push(i) }), (error) => {
      assert.ok(isStateTooNew(error));
      assert.match(error.message, /version 2/);
      assert.match(error.hint ?? '', /upgrade orchestra/);
      return true;
    });
    assert.equal(await readFile(statePath, 'utf8'), bytes);
    assert.deepEqual(await corruptSiblings(statePath), []);
    assert.deepEqual(reports, []);
  });

  it('refuses an invalid mutation and leaves file and snapshot unchanged', async () => {
    const statePath = await freshStatePath();
    const store = await StateStore.open(statePath);
    await store.update((d) => {
      upsertTask(d, { id: 'task-01' });
    });
    const before = await readFile(statePath, 'utf8');
    const snapshot = store.read();

    await assert.rejects(
      store.update((d) => {
        d.tasks['task-01']!.createdAt = 'yesterday';
        d.tasks['task-02'] = { ...d.tasks['task-01']!, id: 'task-02' };
      }),
      (error) => {
        assert.ok(isOrchestraError(error, 'INTERNAL'));
        assert.match(error.message, /tasks\.task-01\.createdAt/);
        return true;
      },
    );
    assert.equal(await readFile(statePath, 'utf8'), before);
    assert.deepEqual(store.read(), snapshot);

    // A mutation that throws writes nothing either, and the queue carries on afterwards.
    await assert.rejects(
      store.update((d) => {
        upsertTask(d, { id: 'task-03' });
        throw new Error('changed my mind');
      }),
      /changed my mind/,
    );
    assert.equal(await readFile(statePath, 'utf8'), before);
    await store.update((d) => {
      upsertTask(d, { id: 'task-04' });
    });
    assert.deepEqual(Object.keys(store.read().tasks).sort(), ['task-01', 'task-04']);
    await store.close();
  });

  it('serializes concurrent updates within one process, also across two stores on one file', async () => {
    const statePath = await freshStatePath();
    const a = await StateStore.open(statePath);
    const b = await StateStore.open(statePath);
    const jobs: Promise<void>[] = [];
    for (let i = 0; i < 30; i++) {
      for (const [tag, store] of [
        ['a', a],
        ['b', b],
      ] as const) {
        jobs.push(
          store.update(async (d) => {
            const task = d.tasks.counter ?? upsertTask(d, { id: 'counter' });
            await tick(); // yield inside the transaction, as real callers may
            task.attempts.push(`${tag}-${i}`);
          }),
        );
      }
    }
    await Promise.all(jobs);
    const final = await a.reload();
    assert.equal(final.tasks.counter?.attempts.length, 60);
    assert.equal(new Set(final.tasks.counter?.attempts).size, 60);
    await a.close();
    await b.close();
  });

  it('keeps the counts of two processes doing 100 updates each', { timeout: 30_000 }, async () => {
    const statePath = await freshStatePath();
    await runWorkers(statePath, [
      { count: 100, tag: 'p1' },
      { count: 100, tag: 'p2' },
    ]);
    const store = await StateStore.open(statePath);
    const attempts = store.read().tasks.counter?.attempts ?? [];
    assert.equal(attempts.length, 200);
    for (const tag of ['p1', 'p2']) {
      const mine = attempts.filter((a) => a.startsWith(`${tag}-`));
      assert.deepEqual(
        mine,
        Array.from({ length: 100 }, (_, i) => `${tag}-${i}`),
        `every update of ${tag} is there, in order`,
      );
    }
    await store.close();
  });

  it('never shows a reader a partial file', { timeout: 30_000 }, async () => {
    const statePath = await freshStatePath();
    let reads = 0;
    const versionsSeen = new Set<number>();
    await runWorkers(statePath, [{ count: 40, tag: 'w', pad: 256 * 1024 }], async (finished) => {
      // Poll until the writer is done; every read must be a complete, valid state.
      while (!finished()) {
        let text: string | undefined;
        try {
          text = readFileSync(statePath, 'utf8');
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        }
        if (text !== undefined) {
          const state = stateSchema.parse(JSON.parse(text));
          versionsSeen.add(state.tasks.counter?.attempts.length ?? 0);
          reads++;
        }
        await tick();
      }
    });
    assert.ok(reads > 10, `reader ran ${reads} times`);
    assert.ok(
      versionsSeen.size > 3,
      `reader saw ${versionsSeen.size} versions while they were being written`,
    );
  });

  it('takes over a lock left by a dead process', async () => {
    const statePath = await freshStatePath();
    await mkdir(`${statePath}.lock`, { recursive: true });
    const old = new Date(Date.now() - 60_000);
    await utimes(`${statePath}.lock`, old, old);
    const store = await StateStore.open(statePath, { lockTimeoutMs: 5_000 });
    await store.update((d) => {
      upsertTask(d, { id: 'task-01' });
    });
    assert.ok(store.read().tasks['task-01']);
    await assert.rejects(readdir(`${statePath}.lock`), { code: 'ENOENT' }, 'the lock is released');
    await store.close();
  });

  it('gives up with STATE_LOCKED when a live lock is held too long', async () => {
    const statePath = await freshStatePath();
    await mkdir(`${statePath}.lock`, { recursive: true });
    const store = await StateStore.open(statePath, { lockTimeoutMs: 300 });
    const started = Date.now();
    await assert.rejects(
      store.update(() => undefined),
      (error) => isOrchestraError(error, 'STATE_LOCKED') && /\.lock/.test(error.hint ?? ''),
    );
    assert.ok(Date.now() - started >= 300);
    await assert.rejects(readFile(statePath), { code: 'ENOENT' });
    await store.close();
  });

  it('refuses updates after close', async () => {
    const store = await StateStore.open(await freshStatePath());
    await store.close();
    await assert.rejects(
      store.update(() => undefined),
      (error) => isOrchestraError(error, 'INTERNAL'),
    );
  });
});

describe('a full disk', () => {
  let dir: string;
  let mounted = false;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'orch-store-full-'));
    // A real full disk: a 1 MiB tmpfs (needs root, as CI has; skipped elsewhere).
    const mount = spawn('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'ignore' });
    const [code] = (await once(mount, 'exit')) as [number | null];
    mounted = code === 0;
  });
  after(async () => {
    if (mounted) await once(spawn('umount', [dir], { stdio: 'ignore' }), 'exit');
    await rm(dir, { recursive: true, force: true });
  });

  /** Fills the tmpfs to the last byte; returns the filler's path. */
  async function fill(): Promise<string> {
    const filler = path.join(dir, 'filler');
    const dd = spawn('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4096'], { stdio: 'ignore' });
    await once(dd, 'exit');
    return filler;
  }

  it('an update waits for room and then lands; one that waits too long throws ENOSPC', async (t) => {
    if (!mounted) {
      t.skip('cannot mount a tmpfs here (not root)');
      return;
    }
    const file = path.join(dir, 'state.json');
    let told = 0;
    const store = await StateStore.open(file, { onDiskFull: () => told++, diskFullPatienceMs: 20_000 });
    await store.update((draft) => void upsertTask(draft, { id: 'task-01' }));
    const filler = await fill();
    const pending = store.update((draft) => void upsertTask(draft, { id: 'task-02' }));
    await new Promise((resolve) => setTimeout(resolve, 1200));
    assert.equal(told, 1, 'the store said once that it waits');
    await rm(filler);
    await pending;
    const written = JSON.parse(await readFile(file, 'utf8'));
    assert.deepEqual(Object.keys(written.tasks).sort(), ['task-01', 'task-02'], 'nothing was lost');

    const impatient = await StateStore.open(file, { diskFullPatienceMs: 600 });
    const filler2 = await fill();
    await assert.rejects(
      impatient.update((draft) => void upsertTask(draft, { id: 'task-03' })),
      (error: NodeJS.ErrnoException) => error.code === 'ENOSPC',
    );
    await rm(filler2);
    await store.close();
    await impatient.close();
  });
});
