import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import xtermHeadless from '@xterm/headless';
import { claudeAdapter } from '../../../src/agents/adapters/claude.js';
import type { AgentLaunch, AgentLaunchContext } from '../../../src/agents/adapters/types.js';
import { LocalPtyProcess } from '../../../src/panes/local-pty.js';
import type { PaneExit } from '../../../src/panes/pane-process.js';
import { agentConfig, launchContext, writeLaunchFiles } from './helpers.js';

/**
 * The claude adapter's container launch run for real: Claude Code on a PTY, its hooks writing
 * events.jsonl, its model calls answered by a scripted Messages API server on 127.0.0.1. Needs a
 * Claude Code binary, so it runs only when ORCHESTRA_TEST_CLAUDE_BIN names one, e.g. after
 * `npm install -g --prefix /tmp/claude-cli @anthropic-ai/claude-code`.
 */
const CLAUDE_BIN = process.env.ORCHESTRA_TEST_CLAUDE_BIN;
const WAIT_MS = 30_000;

/** Answers every /v1/messages call with one streamed text block; records how long each conversation was. */
function scriptedMessagesServer(conversationLengths: number[]): Server {
  return createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      if (!req.url?.startsWith('/v1/messages')) {
        res.writeHead(req.method === 'HEAD' ? 200 : 404).end();
        return;
      }
      const request = JSON.parse(body || '{}') as { model?: string; messages?: unknown[]; stream?: boolean };
      conversationLengths.push(request.messages?.length ?? 0);
      const usage = {
        input_tokens: 12,
        output_tokens: 3,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      };
      const message = {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model: request.model,
        content: [],
        stop_reason: null,
        usage,
      };
      if (!request.stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            ...message,
            content: [{ type: 'text', text: 'scripted reply' }],
            stop_reason: 'end_turn',
          }),
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const send = (type: string, data: object) =>
        res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
      send('message_start', { message });
      send('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
      send('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'scripted reply' } });
      send('content_block_stop', { index: 0 });
      send('message_delta', {
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { output_tokens: 3 },
      });
      send('message_stop', {});
      res.end();
    });
  });
}

interface Started {
  pane: LocalPtyProcess;
  exited: Promise<PaneExit>;
}

describe('Claude Code under the claude adapter (live)', {
  skip: CLAUDE_BIN ? false : 'set ORCHESTRA_TEST_CLAUDE_BIN',
}, () => {
  let dir: string;
  let server: Server;
  let baseUrl: string;
  const conversations: number[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'orchestra-'));
    server = scriptedMessagesServer(conversations);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  function start(launch: AgentLaunch, home: string): Started {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: home,
      ANTHROPIC_BASE_URL: baseUrl,
      // No telemetry or update checks towards the internet from a test.
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      ...launch.env,
    };
    // The worker's part of the secrets contract: the key under the name the adapter asked for.
    for (const to of Object.keys(launch.renameEnv ?? {})) env[to] = 'test-key';
    const pane = new LocalPtyProcess({ command: launch.command, cwd: launch.cwd, env, cols: 100, rows: 30 });
    // Like the server's emulator, answer the terminal queries the TUI sends.
    const term = new xtermHeadless.Terminal({ cols: 100, rows: 30, allowProposedApi: true });
    pane.onData((data) => term.write(data));
    term.onData((data) => pane.write(data));
    const exited = new Promise<PaneExit>((resolve) => pane.onExit(resolve));
    return { pane, exited };
  }

  async function statusLines(runDir: string): Promise<{ state: string; source: string }[]> {
    const text = await readFile(join(runDir, 'events.jsonl'), 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter((line) => line.trim())
      .map((line) => JSON.parse(line) as { state: string; source: string });
  }

  async function waitFor(runDir: string, count: number): Promise<{ state: string; source: string }[]> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const lines = await statusLines(runDir);
      if (lines.length >= count) return lines;
      if (Date.now() > deadline) assert.fail(`only ${JSON.stringify(lines)} after ${WAIT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  test('hooks report working, waiting and done; a resumed session keeps its conversation', async () => {
    const home = join(dir, 'home');
    const runDir = join(dir, 'run');
    const worktree = join(dir, 'worktree');
    await Promise.all([mkdir(home), mkdir(runDir), mkdir(worktree)]);
    const agent = agentConfig('claude', { type: 'claude', command: `'${CLAUDE_BIN}'` });
    const ctx: AgentLaunchContext = launchContext(agent, {
      inContainer: true,
      runDir,
      worktree,
      prompt: '-starts with a dash',
    });

    const first = claudeAdapter.launch(ctx);
    await writeLaunchFiles(first, runDir);
    const one = start(first, home);
    const turn = await waitFor(runDir, 2);
    assert.deepEqual(
      turn.map((l) => `${l.source}=${l.state}`),
      ['claude-code:UserPromptSubmit=working', 'claude-code:Stop=done'],
    );
    // Claude Code writes its session transcript after the Stop hook; killing it at once can leave
    // nothing to resume (seen under load), so give it a moment as a person would.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    one.pane.kill();
    await one.exited;
    const ended = await waitFor(runDir, 3);
    assert.equal(`${ended[2]?.source}=${ended[2]?.state}`, 'claude-code:SessionEnd=done');

    const second = claudeAdapter.launch({ ...ctx, resume: true, sessionId: first.sessionId });
    await writeLaunchFiles(second, runDir);
    const two = start(second, home);
    const restored = await waitFor(runDir, 4);
    assert.equal(`${restored[3]?.source}=${restored[3]?.state}`, 'claude-code:SessionStart=waiting');
    two.pane.write('and now?\r');
    const again = await waitFor(runDir, 6);
    assert.deepEqual(
      again.slice(4).map((l) => l.state),
      ['working', 'done'],
    );
    // The second turn was sent with the first one's prompt and reply before it.
    assert.ok(Math.max(...conversations) >= 3, `conversation lengths ${conversations.join(',')}`);
    two.pane.kill();
    await two.exited;
  });
});
