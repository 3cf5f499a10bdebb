import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, mock, test } from 'node:test';
import * as pty from 'node-pty';
import { configSchema } from '../../src/config/schema.js';
import {
  NOTICE_MIN_INTERVAL_MS,
  NOTICE_SETTLE_MS,
  NoticeGate,
  NotifyCommand,
  noticeFor,
  notifyArgv,
} from '../../src/server/notifications.js';
import { makeRepo } from '../git/fixtures.js';
import { ORCHESTRA_BIN } from '../support/cli.js';
import { startTestSession, type TestSession, waitFor } from './fixtures.js';

describe('notices: which states, what text', () => {
  test('waiting, done and error are told; working and idle are not', () => {
    const pane = { id: 3, name: 'claude', attemptId: 'task-07-a2' };
    for (const state of ['waiting', 'done', 'error']) assert.ok(noticeFor(pane, state, ''), state);
    for (const state of ['working', 'idle']) assert.equal(noticeFor(pane, state, ''), undefined, state);
    assert.deepEqual(noticeFor(pane, 'waiting', 'needs a yes'), {
      pane: 3,
      name: 'claude',
      state: 'waiting',
      summary: 'needs a yes',
      attempt: 'task-07-a2',
      task: 'task-07',
    });
  });

  test("the agent's summary is hostile: no escape sequence survives, and it is cut short", () => {
    const notice = noticeFor(
      { id: 1, name: 'a' },
      'waiting',
      `\x1b]52;c;ZXZpbA==\x07ok\x1b[31m\x07${'x'.repeat(500)}`,
    )!;
    assert.doesNotMatch(notice.summary, /[\x00-\x1f\x7f-\x9f]/);
    assert.ok(notice.summary.startsWith('ok'));
    assert.equal([...notice.summary].length, 200);
    assert.equal(noticeFor({ id: 1, name: 'a' }, 'done', { not: 'text' })!.summary, '');
  });

  test('notify argv: an argument that is exactly a placeholder is its value; nothing inside others', () => {
    const notice = noticeFor({ id: 1, name: 'a', attemptId: 't-1-a1' }, 'waiting', 'a b; $(rm -rf ~) `x`')!;
    assert.deepEqual(
      notifyArgv(
        ['notify-send', '{task}', '{attempt}', '{state}', '{summary}', 'x {summary}', '{nope}'],
        notice,
      ),
      ['notify-send', 't-1', 't-1-a1', 'waiting', 'a b; $(rm -rf ~) `x`', 'x {summary}', '{nope}'],
    );
    const plain = noticeFor({ id: 2, name: 'sh' }, 'done', '')!;
    assert.deepEqual(notifyArgv(['x', '{task}'], plain), ['x', '']);
  });

  test('the notify command runs one at a time; notices meanwhile wait, the latest of each pane', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'orchestra-notify-'));
    try {
      const out = join(dir, 'out');
      const command = new NotifyCommand(
        ['sh', '-c', 'sleep 0.2; echo "$1" >> "$0"', out, '{summary}'],
        process.env,
      );
      const notice = (pane: number, summary: string) =>
        noticeFor({ id: pane, name: 'p' }, 'waiting', summary)!;
      command.run(notice(1, 'first'));
      command.run(notice(2, 'two-old'));
      command.run(notice(3, 'three'));
      command.run(notice(2, 'two-new'));
      await waitFor(
        async () => (await readFile(out, 'utf8').catch(() => '')).split('\n').length > 3,
        'all run',
        5000,
      );
      assert.deepEqual((await readFile(out, 'utf8')).trim().split('\n'), ['first', 'three', 'two-new']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('the config refuses the program itself as a placeholder', () => {
    const bad = configSchema.safeParse({ notify: ['{summary}', 'x'] });
    assert.equal(bad.success, false);
    assert.match(bad.error!.issues[0]!.message, /the program to run cannot be a placeholder/);
  });

  test('the config refuses a placeholder inside a longer argument, with the reason', () => {
    const ok = configSchema.safeParse({ notify: ['notify-send', '{task}', '{summary}'] });
    assert.equal(ok.success, true);
    const bad = configSchema.safeParse({ notify: ['osascript', '-e', 'display notification "{summary}"'] });
    assert.equal(bad.success, false);
    assert.match(bad.error!.issues[0]!.message, /a placeholder must be an argument of its own/);
    assert.deepEqual(bad.error!.issues[0]!.path, ['notify', 2]);
  });

  test('the gate tells a state once it holds, at most every few seconds per pane, and a flood as one', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      let now = 0;
      const told: string[] = [];
      const gate = new NoticeGate(
        (n) => told.push(`${n.pane}:${n.state}`),
        () => now,
      );
      const waiting = noticeFor({ id: 1, name: 'a' }, 'waiting', '')!;
      const done = noticeFor({ id: 1, name: 'a' }, 'done', '')!;
      // A file of a thousand flips, read at once: one notice, of the last state.
      for (let i = 0; i < 1000; i++) gate.offer(1, i % 2 ? undefined : waiting);
      gate.offer(1, done);
      mock.timers.tick(NOTICE_SETTLE_MS);
      assert.deepEqual(told, ['1:done']);
      // Waiting again a second later: held back until the interval has passed since the last one.
      now = 1000;
      gate.offer(1, waiting);
      now = NOTICE_MIN_INTERVAL_MS - 1;
      mock.timers.tick(NOTICE_MIN_INTERVAL_MS - 1000 - 1);
      assert.deepEqual(told, ['1:done']);
      now = NOTICE_MIN_INTERVAL_MS;
      mock.timers.tick(1);
      assert.deepEqual(told, ['1:done', '1:waiting']);
      // Working again before it is told: withdrawn.
      now += NOTICE_MIN_INTERVAL_MS;
      gate.offer(1, waiting);
      gate.offer(1, undefined);
      mock.timers.tick(NOTICE_SETTLE_MS);
      assert.equal(told.length, 2);
      // Another pane has its own pace; a forgotten pane is never told.
      gate.offer(2, noticeFor({ id: 2, name: 'b' }, 'waiting', '')!);
      gate.offer(3, noticeFor({ id: 3, name: 'c' }, 'waiting', '')!);
      gate.forget(3);
      mock.timers.tick(NOTICE_SETTLE_MS);
      assert.deepEqual(told, ['1:done', '1:waiting', '2:waiting']);
    } finally {
      mock.timers.reset();
    }
  });
});

/**
 * End to end: a real client on a real PTY, a server that loaded the repository's config, and a
 * shell agent that reports it waits (the status line the adapters' hooks write).
 */
describe('an agent that starts waiting is told to the person', () => {
  let session: TestSession;
  let root: string;
  let runDir: string;
  let out: string;
  let client: pty.IPty | undefined;

  before(async () => {
    root = await makeRepo();
    runDir = join(root, '.orchestra', 'runs', 'task-09-a1');
    out = join(root, 'notified.txt');
    await mkdir(runDir, { recursive: true });
    const notify = [
      'sh',
      '-c',
      'printf "%s\\n" "$@" "env: $ORCHESTRA_TASK $ORCHESTRA_STATE" > "$0"',
      out,
      '{task}',
      '{attempt}',
      '{state}',
      '{summary}',
    ];
    await writeFile(join(root, '.orchestra', 'orchestra.json'), JSON.stringify({ notify }));
    session = await startTestSession('notify', { root });
  });
  after(async () => {
    client?.kill();
    await session?.cleanup();
    await rm(root, { recursive: true, force: true });
  });

  test('the attached client rings and sends OSC 9 and OSC 777; the notify command gets its arguments', async () => {
    let screen = '';
    client = pty.spawn(process.execPath, [ORCHESTRA_BIN, 'attach', '-t', session.session], {
      cols: 100,
      rows: 30,
      env: { ...session.env, TERM: 'xterm-256color' } as Record<string, string>,
    });
    client.onData((data) => {
      screen += data;
    });
    await waitFor(() => screen.includes('[notify]'), 'the status bar');
    const status = JSON.stringify({
      ts: 'now',
      type: 'status',
      state: 'waiting',
      summary: 'Allow edit of a.txt?',
    });
    // As the scheduler starts an attempt's pane: with its attempt and run directory.
    session.server.newPane({
      name: 'agent',
      command: [
        'sh',
        '-c',
        `sleep 0.3; printf '%s\\n' '${status}' >> "$ORCHESTRA_RUN_DIR/events.jsonl"; exec sleep 60`,
      ],
      env: { ORCHESTRA_RUN_DIR: runDir },
      attemptId: 'task-09-a1',
      runDir,
      remainOnExit: true,
    });
    await waitFor(() => screen.includes('\x1b]777;'), 'the desktop notification', 10_000);
    const title = 'orchestra: task-09 (pane 0) waits for you';
    assert.ok(
      screen.includes(`\x07\x1b]9;${title}: Allow edit of a.txt?\x07`),
      JSON.stringify(screen.slice(-400)),
    );
    assert.ok(screen.includes(`\x1b]777;notify;${title};Allow edit of a.txt?\x07`));
    const args = await waitFor(
      async () => (await readFile(out, 'utf8').catch(() => '')) || undefined,
      'notify ran',
    );
    assert.equal(args, 'task-09\ntask-09-a1\nwaiting\nAllow edit of a.txt?\nenv: task-09 waiting\n');
  });
});
