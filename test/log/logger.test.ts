import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isOrchestraError } from '../../src/common/errors.js';
import { orchestraPaths } from '../../src/common/paths.js';
import { createLogger } from '../../src/log/logger.js';
import { nullLogger } from '../../src/log/null-logger.js';
import { readLogLines } from '../support/log-lines.js';

let tmp: string;
let counter = 0;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'orchestra-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A fresh repository root's log path; its `.orchestra/logs/` does not exist yet. */
function freshLogPath(): string {
  return orchestraPaths(path.join(tmp, `repo-${++counter}`)).log;
}

describe('createLogger', () => {
  it('writes one JSON object per line with time, level, component and msg', async () => {
    const file = freshLogPath();
    const logger = createLogger(file, { component: 'server' });
    const before = Date.now();
    logger.info('server started on %s', '/tmp/orchestra-1000/demo');
    logger.debug('not at the default level');
    logger.warn({ clients: 2 }, 'slow client');
    logger.flush();

    const lines = await readLogLines(file);
    assert.equal(lines.length, 2);
    const [first, second] = lines;
    assert.equal(first!.level, 'info');
    assert.equal(first!.component, 'server');
    assert.equal(first!.msg, 'server started on /tmp/orchestra-1000/demo');
    assert.equal(typeof first!.time, 'string');
    assert.equal(new Date(first!.time as string).toISOString(), first!.time, 'time is ISO 8601');
    assert.ok(Date.parse(first!.time as string) >= before - 1000);
    assert.equal('ts' in first!, false);
    assert.equal(second!.level, 'warn');
    assert.equal(second!.clients, 2);
    assert.equal(second!.msg, 'slow client');
    assert.equal('pid' in first!, false);
    logger.close();
  });

  it('defaults the component, honours the level and appends to an existing file', async () => {
    const file = freshLogPath();
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, '{"msg":"earlier"}\n');
    const logger = createLogger(file, { level: 'debug' });
    logger.trace('too fine');
    logger.debug('fine enough');
    logger.close();
    const lines = await readLogLines(file);
    assert.deepEqual(
      lines.map((l) => [l.msg, l.component]),
      [
        ['earlier', undefined],
        ['fine enough', 'orchestra'],
      ],
    );
    assert.equal(lines[1]!.level, 'debug');
  });

  it('carries task and attempt ids of child loggers, with one component per line', async () => {
    const file = freshLogPath();
    const logger = createLogger(file, { component: 'server' });
    const scheduler = logger.child({ component: 'scheduler', task: 'task-03', attempt: 'task-03-a1' });
    scheduler.info('attempt started');
    const retry = scheduler.child({ attempt: 'task-03-a2' });
    retry.error(new Error('worker exited with code 137'));
    logger.info('root again');
    logger.flush();

    const text = await readFile(file, 'utf8');
    for (const line of text.trimEnd().split('\n')) {
      assert.equal(line.match(/"component"/g)?.length, 1, `one component in ${line}`);
    }
    const [started, failed, root] = await readLogLines(file);
    assert.deepEqual(
      [started!.component, started!.task, started!.attempt, started!.msg],
      ['scheduler', 'task-03', 'task-03-a1', 'attempt started'],
    );
    assert.deepEqual(
      [failed!.component, failed!.task, failed!.attempt],
      ['scheduler', 'task-03', 'task-03-a2'],
    );
    assert.equal(failed!.level, 'error');
    assert.equal(failed!.msg, 'worker exited with code 137');
    assert.match(String((failed!.err as Record<string, unknown>).stack), /worker exited/);
    assert.equal(root!.component, 'server');
    assert.equal('task' in root!, false);
    logger.close();
  });

  it('puts its bindings (a session) on every line, children included, once each', async () => {
    const file = freshLogPath();
    const logger = createLogger(file, { component: 'server', bindings: { session: 'demo' } });
    logger.info('server started');
    logger.child({ component: 'scheduler', task: 'task-03' }).child({ attempt: 'task-03-a1' }).warn('slow');
    logger.close();

    const text = await readFile(file, 'utf8');
    for (const line of text.trimEnd().split('\n')) {
      assert.equal(line.match(/"session"/g)?.length, 1, `one session in ${line}`);
    }
    const [started, slow] = await readLogLines(file);
    assert.deepEqual([started!.session, started!.component], ['demo', 'server']);
    assert.deepEqual(
      [slow!.session, slow!.component, slow!.task, slow!.attempt],
      ['demo', 'scheduler', 'task-03', 'task-03-a1'],
    );
  });

  it('redacts values under secret keys at any depth', async () => {
    const file = freshLogPath();
    const logger = createLogger(file);
    logger.info(
      {
        request: {
          headers: { Authorization: 'Bearer abc.def', 'x-api-key': 'k-123' },
          body: { messages: [{ role: 'user', apiKey: 'nested-in-array' }] },
        },
        api_key: 'snake',
        password: 'hunter2',
        usage: { input_tokens: 1200, output_tokens: 300 },
      },
      'request sent',
    );
    logger.child({ task: 'task-01', token: 'child-binding-token' }).info('from child');
    logger.close();

    const text = await readFile(file, 'utf8');
    for (const secret of ['abc.def', 'k-123', 'nested-in-array', 'snake', 'hunter2', 'child-binding-token']) {
      assert.equal(text.includes(secret), false, `${secret} leaked`);
    }
    const [request, child] = await readLogLines(file);
    const r = request!.request as {
      headers: Record<string, unknown>;
      body: { messages: Record<string, unknown>[] };
    };
    assert.equal(r.headers.Authorization, '[redacted]');
    assert.equal(r.headers['x-api-key'], '[redacted]');
    assert.equal(r.body.messages[0]!.apiKey, '[redacted]');
    assert.equal(r.body.messages[0]!.role, 'user');
    assert.equal(request!.password, '[redacted]');
    assert.deepEqual(request!.usage, { input_tokens: 1200, output_tokens: 300 }, 'token counts stay');
    assert.equal(child!.token, '[redacted]');
    assert.equal(child!.task, 'task-01');
  });

  it('redacts known secret values and Anthropic keys wherever they appear', async (t) => {
    const saved = {
      ANTHROPIC_API_KEY: process.env.ANTHROPIC_API_KEY,
      OPENAI_API_KEY: process.env.OPENAI_API_KEY,
    };
    t.after(() => {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    });
    const anthropic = 'fake-anthropic-key-0123456789';
    const openai = 'fake-openai-key-abcdefghij';
    const extra = 'per-repo-secret-"quoted"\\value';
    const unknownKey = 'sk-ant-api03-Zz9_unknown-KEY';
    process.env.ANTHROPIC_API_KEY = anthropic;
    process.env.OPENAI_API_KEY = openai;

    const file = freshLogPath();
    const logger = createLogger(file, { secrets: [extra] });
    logger.info(`starting worker with ANTHROPIC_API_KEY=${anthropic}`);
    logger.warn({ env: { note: `key is ${anthropic}!` }, argv: ['--key', openai] }, 'argv %s', openai);
    logger.error({ cmd: `curl -H 'x: ${extra}'` }, 'saw %s', unknownKey);
    logger.child({ attempt: 'task-01-a1', note: anthropic }).error(new Error(`auth failed for ${anthropic}`));
    logger.close();

    const text = await readFile(file, 'utf8');
    for (const secret of [anthropic, openai, unknownKey, 'per-repo-secret', 'sk-ant-']) {
      assert.equal(text.includes(secret), false, `${secret} leaked into the log`);
    }
    const lines = await readLogLines(file);
    assert.equal(lines.length, 4, 'redaction keeps every line valid JSON');
    assert.equal(lines[0]!.msg, 'starting worker with ANTHROPIC_API_KEY=[redacted]');
    assert.deepEqual(lines[1]!.env, { note: 'key is [redacted]!' });
    assert.deepEqual(lines[1]!.argv, ['--key', '[redacted]']);
    assert.equal(lines[1]!.msg, 'argv [redacted]');
    assert.equal(lines[2]!.cmd, "curl -H 'x: [redacted]'");
    assert.equal(lines[2]!.msg, 'saw [redacted]');
    assert.equal(lines[3]!.note, '[redacted]');
    assert.equal(lines[3]!.msg, 'auth failed for [redacted]');
  });

  it('logs nothing after close and refuses unknown levels', async () => {
    const file = freshLogPath();
    const logger = createLogger(file);
    const child = logger.child({ component: 'client' });
    logger.info('last words');
    logger.close();
    logger.info('after close');
    child.warn('child after close');
    logger.close();
    const lines = await readLogLines(file);
    assert.deepEqual(
      lines.map((l) => l.msg),
      ['last words'],
    );
    assert.throws(
      () => createLogger(freshLogPath(), { level: 'loud' }),
      (e) => isOrchestraError(e, 'CONFIG_INVALID'),
    );
  });
});

describe('nullLogger', () => {
  it('accepts every call and writes nothing', () => {
    const logger = nullLogger();
    const child = logger.child({ component: 'cli', task: 'task-01' });
    for (const l of [logger, child]) {
      l.info('x');
      l.error(new Error('y'));
      l.warn({ a: 1 }, 'z');
      l.flush();
    }
    assert.equal(child.isLevelEnabled('fatal'), false);
    logger.close();
  });
});
