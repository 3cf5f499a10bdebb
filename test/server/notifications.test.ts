import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as pty from 'node-pty';
import { noticeFor, notifyArgv } from '../../src/server/notifications.js';
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

  test('notify argv: placeholders are replaced inside each argument, which stays one argument', () => {
    const notice = noticeFor({ id: 1, name: 'a', attemptId: 't-1-a1' }, 'waiting', 'a b; $(rm -rf ~) `x`')!;
    assert.deepEqual(
      notifyArgv(['notify-send', '{task}/{attempt}', 'state={state}', '{summary}', '{nope}'], notice),
      ['notify-send', 't-1/t-1-a1', 'state=waiting', 'a b; $(rm -rf ~) `x`', '{nope}'],
    );
    const plain = noticeFor({ id: 2, name: 'sh' }, 'done', '')!;
    assert.deepEqual(notifyArgv(['x', '{task}{attempt}'], plain), ['x', '']);
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
      'printf "%s\\n" "$@" > "$0"',
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
    assert.equal(args, 'task-09\ntask-09-a1\nwaiting\nAllow edit of a.txt?\n');
  });
});
