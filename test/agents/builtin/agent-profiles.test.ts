import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { ScriptedModelServer } from '../../../src/model-server/scripted-server.js';
import { makeWorld, profile, requestBody, startAgent, userBlock } from './agent-harness.js';
import { TINY_PNG } from './fixtures/images.js';

/**
 * The built-in profiles that narrow or widen what the agent may do — docs, research, vision — run
 * as real agent processes on a PTY against the scripted Messages API server; what the tools did
 * (a refusal, a report, an image) is read back from the next request the model got.
 */

const EDITOR = 'str_replace_based_edit_tool';

/** The tool_result that opens the newest user message of request `index`, content as sent. */
function toolResult(server: ScriptedModelServer, index: number) {
  return userBlock(server, index, 0) as unknown as {
    type: string;
    is_error?: boolean;
    content: string | Record<string, unknown>[];
  };
}

describe('built-in agent profiles', () => {
  test('docs edits a markdown file; a source file and a writing bash command are refused', async () => {
    const world = await makeWorld(
      {
        turns: [
          {
            toolUses: [
              {
                name: EDITOR,
                input: { command: 'str_replace', path: 'README.md', old_str: 'hello', new_str: 'hi' },
              },
            ],
          },
          { toolUses: [{ name: EDITOR, input: { command: 'create', path: 'src/x.ts', file_text: 'x' } }] },
          { toolUses: [{ name: 'bash', input: { command: 'echo x > src/y.ts' } }] },
          { toolUses: [{ name: 'task_complete', input: { summary: 'README says hi' } }] },
        ],
      },
      null,
    );
    try {
      const agent = await startAgent(world, { profile: 'docs' });
      assert.equal((await agent.exit).exitCode, 0, agent.output());
      assert.match(agent.output(), /profile "docs".*edits only \*\*\/\*\.md, /);
      assert.equal(await readFile(join(world.repo, 'README.md'), 'utf8'), 'hi\nworld\n');
      assert.match(
        requestBody(world.server, 0).system[0]!.text,
        /You may change only files matching `\*\*\/\*\.md`, `\*\*\/\*\.mdx`/,
      );

      assert.equal(toolResult(world.server, 1).is_error, undefined);
      const editor = toolResult(world.server, 2);
      assert.equal(editor.is_error, true);
      assert.match(String(editor.content), /"src\/x\.ts" is not editable by this profile/);
      const bash = toolResult(world.server, 3);
      assert.equal(bash.is_error, true);
      assert.match(String(bash.content), /redirection ">".*bash only reads here/);
      await assert.rejects(stat(join(world.repo, 'src', 'x.ts')));
      await assert.rejects(stat(join(world.repo, 'src', 'y.ts')));
    } finally {
      await world.cleanup();
    }
  });

  test('research writes report.md into its run directory and nothing in the worktree', async () => {
    const world = await makeWorld(
      ({ runDir }) => ({
        turns: [
          {
            toolUses: [
              {
                name: EDITOR,
                input: { command: 'create', path: join(runDir, 'report.md'), file_text: '# Findings\n' },
              },
            ],
          },
          { toolUses: [{ name: EDITOR, input: { command: 'create', path: 'notes.md', file_text: 'x' } }] },
          { toolUses: [{ name: 'task_complete', input: { summary: 'reported' } }] },
        ],
      }),
      null,
    );
    try {
      const agent = await startAgent(world, { profile: 'research' });
      assert.equal((await agent.exit).exitCode, 0, agent.output());
      const reportPath = join(world.runDir, 'report.md');
      assert.equal(await readFile(reportPath, 'utf8'), '# Findings\n');
      assert.ok(
        requestBody(world.server, 0).system[0]!.text.includes(
          `Write your report with the editor to the report file ${reportPath}`,
        ),
      );
      assert.equal(toolResult(world.server, 1).is_error, undefined);
      const refused = toolResult(world.server, 2);
      assert.equal(refused.is_error, true);
      assert.match(
        String(refused.content),
        /read-only profile: .*"create" is not allowed; write your report to /,
      );
      await assert.rejects(stat(join(world.repo, 'notes.md')));
    } finally {
      await world.cleanup();
    }
  });

  test('vision: viewing a PNG sends the image to the model in the next request', async () => {
    const world = await makeWorld(
      {
        turns: [
          { toolUses: [{ name: EDITOR, input: { command: 'view', path: 'shot.jpg' } }] },
          { toolUses: [{ name: 'task_complete', input: { summary: 'looked' } }] },
        ],
      },
      { profile: profile({ images: true }), checks: [], taskId: 'task-01' },
    );
    try {
      // Named .jpg but a PNG: the media type must come from the bytes.
      await writeFile(join(world.repo, 'shot.jpg'), TINY_PNG);
      const agent = await startAgent(world);
      assert.equal((await agent.exit).exitCode, 0, agent.output());
      const result = toolResult(world.server, 1);
      assert.equal(result.type, 'tool_result');
      assert.equal(result.is_error, undefined);
      assert.deepEqual(result.content, [
        { type: 'text', text: 'Image shot.jpg (image/png, 70 bytes):' },
        {
          type: 'image',
          source: { type: 'base64', media_type: 'image/png', data: TINY_PNG.toString('base64') },
        },
      ]);
      assert.match(agent.output(), /PNG image · 70 bytes/);
    } finally {
      await world.cleanup();
    }
  });
});
