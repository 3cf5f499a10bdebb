import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { defaultSession, parseTarget } from '../../src/ipc/session-target.js';
import { sanitizeSessionName, socketDir } from '../../src/protocol/socket-path.js';
import { makeRepo } from '../git/fixtures.js';
import { tempDir } from '../server/fixtures.js';

/** tmux-style `-t` targets, resolved against a real repository and a real socket directory. */
describe('session targets', () => {
  let repo: string;
  let outside: string;
  let tmp: string;
  let env: NodeJS.ProcessEnv;
  let repoSession: string;
  before(async () => {
    repo = await makeRepo();
    outside = await tempDir();
    tmp = await tempDir();
    env = { ORCHESTRA_TMPDIR: tmp };
    repoSession = sanitizeSessionName(basename(repo));
    // A session called "other" is running: its socket exists.
    await mkdir(socketDir(env), { recursive: true, mode: 0o700 });
    await writeFile(join(socketDir(env), 'other'), '');
  });
  after(async () => {
    for (const dir of [repo, outside, tmp]) await rm(dir, { recursive: true, force: true });
  });

  test('the default session is the repository directory, else "default", else $ORCHESTRA_SESSION', async () => {
    assert.deepEqual(await defaultSession(join(repo, '.orchestra'), env), {
      session: repoSession,
      root: repo,
    });
    assert.deepEqual(await defaultSession(outside, env), { session: 'default' });
    assert.deepEqual(await defaultSession(repo, { ...env, ORCHESTRA_SESSION: 'in pane' }), {
      session: 'in-pane',
    });
  });

  test('session:pane, session: and :pane', async () => {
    assert.deepEqual(await parseTarget('work:2', repo, env, true), { session: 'work', pane: '2' });
    assert.deepEqual(await parseTarget('work:', repo, env, true), { session: 'work' });
    assert.deepEqual(await parseTarget(':%4', repo, env, true), {
      session: repoSession,
      root: repo,
      pane: '%4',
    });
    assert.deepEqual(await parseTarget(undefined, repo, env, true), { session: repoSession, root: repo });
  });

  test('a bare word is a running session if one has that name, else a pane of this session', async () => {
    assert.deepEqual(await parseTarget('other', repo, env, true), { session: 'other' });
    assert.deepEqual(await parseTarget('editor', repo, env, true), {
      session: repoSession,
      root: repo,
      pane: 'editor',
    });
    // Where only a session makes sense, a bare word is always one.
    assert.deepEqual(await parseTarget('editor', repo, env, false), { session: 'editor' });
  });
});

/** A target that names its session needs no repository: no git process starts (issue 12). */
describe('a named session skips the repository lookup', () => {
  let bin: string;
  let marker: string;
  let savedPath: string | undefined;
  before(async () => {
    bin = await tempDir();
    marker = join(bin, 'git-ran');
    // A `git` first on PATH that leaves a mark and fails, as if there were no repository.
    await writeFile(join(bin, 'git'), `#!/bin/sh\necho "$@" >> ${marker}\nexit 128\n`, { mode: 0o755 });
    savedPath = process.env.PATH;
    process.env.PATH = `${bin}:${savedPath ?? ''}`;
  });
  after(async () => {
    process.env.PATH = savedPath;
    await rm(bin, { recursive: true, force: true });
  });

  test('session:pane, session: and a bare session name run no git; :pane does', async () => {
    const env = { ORCHESTRA_TMPDIR: bin };
    assert.deepEqual(await parseTarget('work:2', bin, env, true), { session: 'work', pane: '2' });
    assert.deepEqual(await parseTarget('work:', bin, env, true), { session: 'work' });
    assert.deepEqual(await parseTarget('work', bin, env, false), { session: 'work' });
    assert.equal(existsSync(marker), false, 'no git process for a named session');
    assert.deepEqual(await parseTarget(':1', bin, env, true), { session: 'default', pane: '1' });
    assert.match(await readFile(marker, 'utf8'), /rev-parse/, 'the current session is looked up with git');
  });
});
