import assert from 'node:assert/strict';
import { appendFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ServerConnection } from '../../src/client/connection.js';
import type { LayoutState } from '../../src/protocol/messages.js';
import { listPanes, startTestSession, type TestSession, tempDir, waitFor } from './fixtures.js';

/**
 * A pane started with an agent's run directory shows the agent's state and cost in its title, and
 * the session's total in the status bar, from events.jsonl lines as DESIGN.md specifies them.
 */
let session: TestSession;
let client: ServerConnection;
let runDir: string;
let layout: LayoutState | undefined;

before(async () => {
  session = await startTestSession('agent-events');
  runDir = join(await tempDir(), 'run');
  await mkdir(runDir, { recursive: true });
  client = await session.connect({ mode: 'attach' }, { onLayout: (l) => (layout = l) });
});
after(async () => {
  await session.cleanup();
  await rm(join(runDir, '..'), { recursive: true, force: true });
});

test('status and usage events become the pane state, its cost and the session cost', async () => {
  const pane = await client.request<{ id: number }>({
    cmd: 'new-pane',
    name: 'agent',
    command: ['sleep', '30'],
    remainOnExit: true,
    runDir,
  });
  const events = join(runDir, 'events.jsonl');
  await appendFile(events, `${JSON.stringify({ ts: Date.now(), type: 'status', state: 'working' })}\n`);
  await waitFor(
    async () => (await listPanes(client)).find((p) => p.id === pane.id)?.state === 'working',
    'working',
  );
  // 100k input + 10k output + 20k cache write + 50k cache read on claude-sonnet-4-5 at $3 / $15 /
  // $3.75 / $0.30 per million (below its 200k long-context threshold): 0.3 + 0.15 + 0.075 + 0.015.
  const usage = {
    type: 'usage',
    model: 'claude-sonnet-4-5',
    input_tokens: 100_000,
    output_tokens: 10_000,
    cache_creation_input_tokens: 20_000,
    cache_read_input_tokens: 50_000,
  };
  // A torn line is held until its newline arrives.
  const line = JSON.stringify({ ts: Date.now(), ...usage });
  await appendFile(events, line.slice(0, 20));
  await new Promise((r) => setTimeout(r, 400));
  await appendFile(
    events,
    `${line.slice(20)}\n${JSON.stringify({ ts: Date.now(), type: 'status', state: 'waiting' })}\n`,
  );
  const info = await waitFor(
    async () => (await listPanes(client)).find((p) => p.id === pane.id && p.state === 'waiting'),
    'waiting',
  );
  assert.equal(info.detail, '$0.5400');
  await waitFor(() => layout?.status.cost === '$0.5400', 'session cost in the status bar');
  // A model without a price makes the total unknown, never $0.
  await appendFile(events, `${JSON.stringify({ ...usage, model: 'mystery-model' })}\n`);
  await waitFor(() => layout?.status.cost?.startsWith('cost unknown'), 'unknown cost');
  assert.match(layout?.status.cost ?? '', /at least \$0\.5400/);
});

test('a rate-limited agent shows until when in its pane; working again clears it', async () => {
  const pane = await client.request<{ id: number }>({
    cmd: 'new-pane',
    name: 'limited',
    command: ['sleep', '30'],
    remainOnExit: true,
    runDir,
  });
  const events = join(runDir, 'events.jsonl');
  const until = new Date(Date.now() + 60_000).toISOString();
  await appendFile(
    events,
    `${JSON.stringify({ ts: Date.now(), type: 'status', state: 'rate-limited', summary: `until ${until}` })}\n`,
  );
  const info = await waitFor(
    async () => (await listPanes(client)).find((p) => p.id === pane.id && p.state === 'rate-limited'),
    'rate-limited',
  );
  assert.equal(info.until, until);
  assert.ok(
    (session.server.rateLimitedUntil() ?? 0) >= Date.parse(until),
    'the session is limited until then',
  );
  await appendFile(events, `${JSON.stringify({ ts: Date.now(), type: 'status', state: 'working' })}\n`);
  const working = await waitFor(
    async () => (await listPanes(client)).find((p) => p.id === pane.id && p.state === 'working'),
    'working again',
  );
  assert.equal(working.until, undefined);
});
