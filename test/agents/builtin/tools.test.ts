import assert from 'node:assert/strict';
import { mkdir, readFile, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BashSession } from '../../../src/agents/builtin/bash-session.js';
import { MAX_IMAGE_BYTES } from '../../../src/agents/builtin/image-file.js';
import { capOutput, HeadTailBuffer, MAX_TOOL_OUTPUT_CHARS } from '../../../src/agents/builtin/output-cap.js';
import { readOnlyViolation } from '../../../src/agents/builtin/read-only-bash.js';
import { bashEnvironment } from '../../../src/agents/builtin/run-agent.js';
import { runEditorCommand } from '../../../src/agents/builtin/text-editor.js';
import { DOCS_EDITABLE } from '../../../src/config/builtins.js';
import { removeDir, tempDir } from '../../git/fixtures.js';
import { TINY_PNG } from './fixtures/images.js';

describe('output cap', () => {
  test('keeps head and tail and says how much was cut', () => {
    const text = `${'a'.repeat(50_000)}${'b'.repeat(50_000)}`;
    const capped = capOutput(text);
    assert.ok(capped.startsWith('a'.repeat(15_000)));
    assert.ok(capped.endsWith('b'.repeat(15_000)));
    assert.ok(capped.length < MAX_TOOL_OUTPUT_CHARS + 200);
    assert.match(capped, /output truncated: 100,000 characters in total, the middle 70,000 were cut/);
    assert.equal(capOutput('short'), 'short');
  });

  test('a streamed buffer drops a marker from its end', () => {
    const buffer = new HeadTailBuffer(4, 8);
    for (const chunk of ['ab', 'cdef', 'ghij', '\nMARK']) buffer.push(chunk);
    buffer.dropLast(5);
    assert.equal(buffer.total, 10);
    assert.match(
      buffer.text(),
      /^abcd\n\n\[output truncated: 10 characters in total, the middle 3 were cut.*\]\n\nhij$/,
    );
    const small = new HeadTailBuffer(10, 10);
    small.push('hello\nMARK');
    small.dropLast(5);
    assert.equal(small.text(), 'hello');
  });
});

describe('read-only bash policy', () => {
  for (const command of [
    'ls -la src',
    'cat README.md | grep -n hello',
    'git log --oneline -5 && git diff HEAD~1 --stat',
    'grep -rn "TODO" src 2>/dev/null | head -20',
    'find . -name "*.ts" -not -path "./node_modules/*"',
    'sed -n 1,20p src/a.ts',
    'git branch -a',
  ]) {
    test(`allows: ${command}`, () => assert.equal(readOnlyViolation(command), undefined));
  }
  for (const [command, reason] of [
    ['rm -rf src', /"rm" is not an allowed command/],
    ['echo hi > notes.txt', /redirection ">"/],
    ['cat a >> b', /redirection ">>"/],
    ['sed -i s/a/b/ f.ts', /sed -i/],
    ['git commit -am wip', /"git commit" is not a read-only git command/],
    ['mv a b', /"mv"/],
    ['cat $(echo /etc/passwd)', /command substitution/],
    ['find . -name x -delete', /find -delete/],
    ['git branch new-branch', /git branch may only list/],
    ['sleep 100 &', /background/],
    ['FOO=1 ls', /variable assignments/],
    ['npm test', /"npm"/],
    ["sed 's/a/b/w out.txt' f", /w or e commands/],
    ['git grep --no-index -Osh mkdir notes.md', /git grep -Osh runs a program/],
    ['git grep --open-files-in-pager=sh x', /runs a program/],
    ['git diff --ext-diff', /git diff --ext-diff runs a program/],
    ['sort --compress-program=sh big.txt', /sort --compress-program runs a program/],
  ] as const) {
    test(`refuses: ${command}`, () => assert.match(readOnlyViolation(command) ?? '', reason));
  }
});

describe('text editor (text_editor_20250728)', () => {
  let root: string;
  let outside: string;
  before(async () => {
    root = await tempDir();
    outside = await tempDir();
    await writeFile(join(root, 'a.txt'), 'one\ntwo\nthree\ntwo\n');
    await mkdir(join(root, 'src', 'deep', 'deeper'), { recursive: true });
    await writeFile(join(root, 'src', 'index.ts'), 'export {};\n');
    await writeFile(join(root, 'src', 'deep', 'x.ts'), '');
    await writeFile(join(root, 'src', 'deep', 'deeper', 'hidden-by-depth.ts'), '');
    await mkdir(join(root, 'node_modules', 'pkg'), { recursive: true });
    await writeFile(join(root, '.env'), 'SECRET=1\n');
    await writeFile(join(outside, 'secret.txt'), 'secret\n');
    await symlink(outside, join(root, 'escape'));
  });
  after(async () => {
    await removeDir(root);
    await removeDir(outside);
  });
  const run = (input: Record<string, unknown>, readOnly = false) =>
    runEditorCommand(root, input, { readOnly, images: false });

  test('view numbers lines and honours view_range', async () => {
    const all = await run({ command: 'view', path: 'a.txt' });
    assert.equal(all.isError, false);
    assert.match(all.content, /\n {5}1\tone\n {5}2\ttwo\n {5}3\tthree\n {5}4\ttwo\n$/);
    const part = await run({ command: 'view', path: 'a.txt', view_range: [2, 3] });
    assert.match(part.content, /:\n {5}2\ttwo\n {5}3\tthree\n$/);
    const toEnd = await run({ command: 'view', path: 'a.txt', view_range: [3, -1] });
    assert.match(toEnd.content, /:\n {5}3\tthree\n {5}4\ttwo\n$/);
    assert.equal((await run({ command: 'view', path: 'a.txt', view_range: [9, 10] })).isError, true);
  });

  test('view lists a directory two levels deep without hidden files and node_modules', async () => {
    const result = await run({ command: 'view', path: '.' });
    const entries = result.content.split('\n').slice(1);
    assert.deepEqual(entries, ['a.txt', 'escape', 'src/', 'src/deep/', 'src/index.ts']);
    const src = await run({ command: 'view', path: 'src' });
    assert.deepEqual(src.content.split('\n').slice(1), ['deep/', 'deep/deeper/', 'deep/x.ts', 'index.ts']);
  });

  test('str_replace needs exactly one match', async () => {
    const none = await run({ command: 'str_replace', path: 'a.txt', old_str: 'four', new_str: '4' });
    assert.equal(none.isError, true);
    assert.match(none.content, /no match for old_str in a\.txt/);
    const many = await run({ command: 'str_replace', path: 'a.txt', old_str: 'two', new_str: '2' });
    assert.equal(many.isError, true);
    assert.match(many.content, /occurs 2 times in a\.txt \(lines 2, 4\)/);
    const one = await run({
      command: 'str_replace',
      path: 'a.txt',
      old_str: 'three\ntwo',
      new_str: 'THREE\nTWO',
    });
    assert.equal(one.isError, false);
    assert.equal(await readFile(join(root, 'a.txt'), 'utf8'), 'one\ntwo\nTHREE\nTWO\n');
    assert.match(one.content, / {5}3\tTHREE/);
  });

  test('create and insert (insert_line, insert_text)', async () => {
    const created = await run({ command: 'create', path: 'new/dir/b.txt', file_text: 'x\ny\n' });
    assert.equal(created.isError, false);
    await run({ command: 'insert', path: 'new/dir/b.txt', insert_line: 0, insert_text: 'top' });
    await run({ command: 'insert', path: 'new/dir/b.txt', insert_line: 3, insert_text: 'end1\nend2' });
    // The older docs' name for the text is accepted too.
    await run({ command: 'insert', path: 'new/dir/b.txt', insert_line: 1, new_str: 'second' });
    assert.equal(
      await readFile(join(root, 'new', 'dir', 'b.txt'), 'utf8'),
      'top\nsecond\nx\ny\nend1\nend2\n',
    );
    const bad = await run({ command: 'insert', path: 'new/dir/b.txt', insert_line: 99, insert_text: 'z' });
    assert.match(bad.content, /insert_line 99 is outside 0-6/);
  });

  test('paths stay inside the worktree; absolute paths inside it work', async () => {
    for (const path of ['../x.txt', join(outside, 'secret.txt'), 'escape/secret.txt', '.git/config']) {
      const result = await run({ command: 'view', path });
      assert.equal(result.isError, true, path);
    }
    const absolute = await run({ command: 'view', path: join(root, 'src', 'index.ts') });
    assert.equal(absolute.isError, false);
    assert.match(absolute.content, /export \{\};/);
  });

  test('a read-only profile may only view', async () => {
    const result = await run({ command: 'create', path: 'c.txt', file_text: 'no' }, true);
    assert.equal(result.isError, true);
    assert.match(result.content, /read-only profile: the editor may only view files/);
    assert.equal((await run({ command: 'view', path: 'a.txt' }, true)).isError, false);
    assert.match((await run({ command: 'undo_edit', path: 'a.txt' })).content, /undo_edit is not available/);
  });
});

describe('text editor: what a profile may change', () => {
  let root: string;
  let runDir: string;
  before(async () => {
    root = await tempDir();
    runDir = await tempDir();
    await writeFile(join(root, 'README.md'), 'hello\n');
    await mkdir(join(root, 'src'));
    await writeFile(join(root, 'src', 'a.ts'), 'export const a = 1;\n');
    await symlink(join(root, 'src', 'a.ts'), join(root, 'notes.md'));
    await symlink(join(root, 'src'), join(root, 'docs'));
    await writeFile(join(runDir, 'agent.json'), '{}\n');
  });
  after(async () => {
    await removeDir(root);
    await removeDir(runDir);
  });
  const docs = (input: Record<string, unknown>) =>
    runEditorCommand(root, input, { readOnly: false, editable: DOCS_EDITABLE, images: false });

  test('edits a file inside "editable" and refuses one outside it', async () => {
    const edited = await docs({ command: 'str_replace', path: 'README.md', old_str: 'hello', new_str: 'hi' });
    assert.equal(edited.isError, false, edited.content);
    assert.equal(await readFile(join(root, 'README.md'), 'utf8'), 'hi\n');
    const created = await docs({ command: 'create', path: 'guide/intro.md', file_text: '# Intro\n' });
    assert.equal(created.isError, false, created.content);

    for (const input of [
      { command: 'create', path: 'src/b.ts', file_text: 'x' },
      { command: 'str_replace', path: 'src/a.ts', old_str: '1', new_str: '2' },
      { command: 'insert', path: join(root, 'src', 'a.ts'), insert_line: 0, insert_text: 'x' },
      { command: 'create', path: 'guide/../src/c.ts', file_text: 'x' },
    ]) {
      const refused = await docs(input);
      assert.equal(refused.isError, true, JSON.stringify(input));
      assert.match(
        refused.content,
        /is not editable by this profile: it may change only files matching \*\*\/\*\.md, /,
      );
    }
    await assert.rejects(stat(join(root, 'src', 'b.ts')));
    await assert.rejects(stat(join(root, 'src', 'c.ts')));
    assert.equal((await docs({ command: 'view', path: 'src/a.ts' })).isError, false, 'viewing stays allowed');
  });

  test('a symlink whose name matches but whose target does not is refused', async () => {
    for (const input of [
      { command: 'str_replace', path: 'notes.md', old_str: '1', new_str: '2' },
      { command: 'create', path: 'docs/b.ts', file_text: 'x' },
    ]) {
      const refused = await docs(input);
      assert.equal(refused.isError, true, JSON.stringify(input));
      assert.match(
        refused.content,
        /leads through a symlink to "src\/(a|b)\.ts", which this profile may not change/,
      );
    }
    assert.equal(await readFile(join(root, 'src', 'a.ts'), 'utf8'), 'export const a = 1;\n');
    await assert.rejects(stat(join(root, 'src', 'b.ts')));
  });

  test('a report profile writes <run-dir>/report.md and nothing else outside the worktree', async () => {
    const reportPath = join(runDir, 'report.md');
    const research = (input: Record<string, unknown>) =>
      runEditorCommand(root, input, { readOnly: true, reportPath, images: false });
    const created = await research({ command: 'create', path: reportPath, file_text: '# Findings\nnone\n' });
    assert.equal(created.isError, false, created.content);
    const edited = await research({
      command: 'str_replace',
      path: reportPath,
      old_str: 'none',
      new_str: 'one',
    });
    assert.equal(edited.isError, false, edited.content);
    assert.equal(await readFile(reportPath, 'utf8'), '# Findings\none\n');

    const inWorktree = await research({ command: 'create', path: 'report.md', file_text: 'x' });
    assert.match(inWorktree.content, /read-only profile: .*; write your report to .*report\.md/);
    const otherRunFile = await research({
      command: 'create',
      path: join(runDir, 'agent.json'),
      file_text: 'x',
    });
    assert.equal(otherRunFile.isError, true);
    assert.match(otherRunFile.content, /"create" is not allowed; write your report to /);
    assert.equal(await readFile(join(runDir, 'agent.json'), 'utf8'), '{}\n');

    const linkedDir = await tempDir();
    try {
      const linkedReport = join(linkedDir, 'report.md');
      await symlink(join(root, 'src', 'a.ts'), linkedReport);
      const viaLink = await runEditorCommand(
        root,
        { command: 'create', path: linkedReport, file_text: 'x' },
        { readOnly: true, reportPath: linkedReport, images: false },
      );
      assert.equal(viaLink.isError, true);
      assert.match(viaLink.content, /is not a regular file; the report must be one/);
      assert.equal(await readFile(join(root, 'src', 'a.ts'), 'utf8'), 'export const a = 1;\n');
    } finally {
      await removeDir(linkedDir);
    }
  });
});

describe('text editor: images', () => {
  let root: string;
  before(async () => {
    root = await tempDir();
    await writeFile(join(root, 'shot.png'), TINY_PNG);
    // Named .jpg, but a PNG: the media type comes from the bytes.
    await writeFile(join(root, 'misnamed.jpg'), TINY_PNG);
    await writeFile(join(root, 'huge.png'), TINY_PNG);
    await truncate(join(root, 'huge.png'), MAX_IMAGE_BYTES + 1);
  });
  after(() => removeDir(root));
  const view = (path: string, images: boolean, extra: Record<string, unknown> = {}) =>
    runEditorCommand(root, { command: 'view', path, ...extra }, { readOnly: false, images });

  test('with "images" a view returns the image, typed by its bytes', async () => {
    const shown = await view('shot.png', true);
    assert.equal(shown.isError, false, shown.content);
    assert.deepEqual(shown.image, { mediaType: 'image/png', base64: TINY_PNG.toString('base64') });
    assert.match(shown.content, /^Image shot\.png \(image\/png, 70 bytes\):$/);
    assert.equal((await view('misnamed.jpg', true)).image?.mediaType, 'image/png');
  });

  test('without "images" a view says what the file is, as text', async () => {
    const told = await view('shot.png', false);
    assert.equal(told.isError, false);
    assert.equal(told.image, undefined);
    assert.match(told.content, /^shot\.png is a PNG image \(70 bytes\); this profile does not show images/);
  });

  test('an image over the API limit and a view_range on an image are refused', async () => {
    const huge = await view('huge.png', true);
    assert.equal(huge.isError, true);
    assert.equal(huge.image, undefined);
    assert.match(
      huge.content,
      /is a PNG image of 3,932,161 bytes; the Messages API takes images up to 3,932,160 bytes/,
    );
    const ranged = await view('shot.png', true, { view_range: [1, 2] });
    assert.match(ranged.content, /view_range applies to text files; "shot\.png" is a PNG image/);
  });
});

describe('bash session', () => {
  let root: string;
  let session: BashSession;
  before(async () => {
    root = await tempDir();
    await mkdir(join(root, 'sub'));
    session = new BashSession({
      cwd: root,
      env: bashEnvironment({ ...process.env, ANTHROPIC_API_KEY: 'sk-ant-should-not-leak-123' }),
      timeoutMs: 500,
    });
  });
  after(async () => {
    await session.dispose();
    await removeDir(root);
  });

  test('keeps its working directory and variables; reports exit codes', async () => {
    assert.equal((await session.run('cd sub && export GREETING=hi')).exitCode, 0);
    const result = await session.run('pwd; echo "$GREETING"; echo oops >&2; false');
    assert.equal(result.outcome, 'exited');
    assert.equal(result.exitCode, 1);
    assert.equal(result.output, `${join(root, 'sub')}\nhi\noops\n`);
  });

  test('has no secrets in its environment', async () => {
    const result = await session.run('echo "[$ANTHROPIC_API_KEY]"');
    assert.equal(result.output, '[]\n');
  });

  test('a syntax error stays inside its command', async () => {
    const broken = await session.run('echo "unclosed');
    assert.equal(broken.outcome, 'exited');
    assert.notEqual(broken.exitCode, 0);
    assert.match(broken.output, /unexpected EOF/);
    assert.equal((await session.run('echo fine')).output, 'fine\n');
  });

  test('a command over the timeout is killed with its children; the next one gets a new shell', async () => {
    const started = Date.now();
    const result = await session.run('echo before; sleep 20 & sleep 20; echo after');
    assert.equal(result.outcome, 'timeout');
    assert.equal(result.output, 'before\n');
    assert.ok(Date.now() - started < 3000);
    const next = await session.run('pwd');
    assert.equal(next.output, `${root}\n`, 'a fresh shell starts in the worktree');
  });

  test('an abort signal kills the command', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const result = await session.run('sleep 0.4; echo late', controller.signal);
    assert.equal(result.outcome, 'interrupted');
    assert.equal(result.output, '');
  });

  test('huge output is capped with head and tail', async () => {
    // Its own shell: 588 KB through a pipe can take longer than the 500 ms the other tests use
    // when the machine is loaded, and a timeout would cut the tail this test looks for.
    const roomy = new BashSession({ cwd: root, env: bashEnvironment(process.env), timeoutMs: 60_000 });
    const result = await roomy.run('seq 1 100000').finally(() => roomy.dispose());
    assert.equal(result.outcome, 'exited');
    assert.equal(result.truncated, true);
    assert.ok(result.output.startsWith('1\n2\n3\n'));
    assert.ok(result.output.endsWith('99999\n100000\n'));
    assert.ok(result.output.length < MAX_TOOL_OUTPUT_CHARS + 200);
    assert.match(result.output, /output truncated: 588,895 characters in total/);
  });

  test('exit ends the session; the next command starts another', async () => {
    const result = await session.run('exit 3');
    assert.equal(result.outcome, 'session-exited');
    assert.equal(result.exitCode, 3);
    assert.equal((await session.run('echo again')).output, 'again\n');
  });
});
