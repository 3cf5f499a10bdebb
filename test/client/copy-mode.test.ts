import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as pty from 'node-pty';
import { startTestSession, type TestSession, waitFor } from '../server/fixtures.js';
import { ORCHESTRA_BIN } from '../support/cli.js';

const PREFIX = '\x02';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Copy mode as tmux's, end to end: a real client on a real PTY selects a line in one pane's
 * history, copies it (the person's terminal gets it as OSC 52), and `prefix ]` types it into
 * another pane, read back with capture-pane.
 */
describe('copy mode', () => {
  let session: TestSession;
  let client: pty.IPty | undefined;

  before(async () => {
    session = await startTestSession('copy');
  });
  after(async () => {
    client?.kill();
    await session?.cleanup();
  });

  test('v … y copies to the clipboard and the paste buffer; prefix ] pastes into another pane', async () => {
    const connection = await session.connect();
    await connection.request({
      cmd: 'new-pane',
      name: 'source',
      command: ['sh', '-c', 'echo copy-me-please; exec cat'],
    });
    await connection.request({ cmd: 'new-pane', name: 'target', command: ['cat'] });
    let output = '';
    client = pty.spawn(process.execPath, [ORCHESTRA_BIN, 'attach', '-t', session.session], {
      cols: 120,
      rows: 30,
      env: { ...session.env, TERM: 'xterm-256color', TMUX: '' } as Record<string, string>,
    });
    client.onData((data) => {
      output += data;
    });
    await waitFor(() => output.includes('copy-me-please') && output.includes('[copy]'), 'both panes drawn');
    const type = async (keys: string) => {
      client!.write(keys);
      await sleep(150);
    };
    await type(`${PREFIX}0`); // focus the source pane
    await type(`${PREFIX}[`); // scroll mode, the copy cursor where the pane's cursor is
    // The title says so (drawn as changed cells: the blank after the word may be skipped).
    await waitFor(() => output.includes('[scroll'), 'scroll mode');
    await type('k'); // up to the echoed line
    await type('0');
    await type('v'); // start the selection
    await type('$'); // to the end of the line
    await type('y'); // copy
    const osc52 = `\x1b]52;c;${Buffer.from('copy-me-please').toString('base64')}\x07`;
    await waitFor(() => output.includes(osc52), 'OSC 52 with the selection');
    await type(`${PREFIX}1`); // focus the target pane
    await type(`${PREFIX}]`); // paste
    const pasted = await waitFor(async () => {
      const { text } = await connection.request<{ text: string }>({ cmd: 'capture-pane', pane: '1' });
      return text.includes('copy-me-please') ? text : undefined;
    }, 'the pasted text in the target pane');
    assert.match(pasted, /^copy-me-please$/m);
  });
});
