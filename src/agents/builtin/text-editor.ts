import { lstat, mkdir, open, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, posix, relative, resolve, sep } from 'node:path';
import { errorMessage, isOrchestraError } from '../../common/errors.js';
import { writeNoFollow } from '../../common/no-follow.js';
import { matchesAnyGlob } from '../../common/path-glob.js';
import { confinePath, isInside } from '../../common/paths.js';
import type { EditPolicy } from './edit-policy.js';
import {
  IMAGE_SIGNATURE_BYTES,
  type ImageMediaType,
  imageFormatName,
  imageMediaType,
  MAX_IMAGE_BYTES,
} from './image-file.js';
import { MAX_TOOL_OUTPUT_CHARS } from './output-cap.js';

/**
 * Anthropic's text editor tool, version `text_editor_20250728` (`str_replace_based_edit_tool`):
 * `view`, `create`, `str_replace` and `insert` (this version has no `undo_edit`), executed on the
 * worktree. Paths are relative to the worktree, or absolute inside it; anything that leads outside
 * (`..`, symlinks) is refused, and so is git's own `.git`. The profile's {@link EditPolicy} narrows
 * what may change: nothing (`readOnly`), or only files matching `editable` — both the path named and
 * where it leads through symlinks must match. Its one exception outside the worktree is the
 * `report` file, addressed by its absolute path and written without following symlinks.
 *
 * Parameter names follow Anthropic's tool reference: `view_range` `[start, end]` (1-based, end -1 =
 * to the end), `file_text` for create, `old_str`/`new_str` for str_replace, `insert_line` (0 = top
 * of the file) and `insert_text` for insert. Older docs called insert's text `new_str`; it is
 * accepted too, since models trained on either may send it.
 */

/** The result of one editor command, as it goes back to the model. */
export interface EditorResult {
  /** Text for the tool_result. */
  content: string;
  /**
   * An image to send after `content` in the tool_result (a `view` of an image under a profile with
   * `images`): its media type from the file's first bytes and the file as base64.
   */
  image?: { mediaType: ImageMediaType; base64: string };
  isError: boolean;
  /** One short line for the transcript. */
  summary: string;
}

/** Lines of context shown around an edit, so the model sees the result without another view. */
const SNIPPET_CONTEXT_LINES = 4;

/** Directory listings stop here; a listing longer than this is noise, not orientation. */
const MAX_LISTING_ENTRIES = 1000;

/** The commands that change a file. */
const CHANGING_COMMANDS = new Set(['create', 'str_replace', 'insert']);

/** A failed command; its message goes back to the model as an `is_error` result. */
class EditorError extends Error {}

function fail(message: string): never {
  throw new EditorError(message);
}

/** How a command writes its file: plainly in the worktree, without following symlinks for the report. */
type WriteFile = (target: string, text: string) => Promise<void>;

const writeInWorktree: WriteFile = (target, text) => writeFile(target, text);

/**
 * Runs one editor command.
 *
 * @param root the worktree (absolute)
 * @param input the tool_use input as the model sent it (unvalidated)
 * @param policy what the profile may change and whether `view` returns images
 * @returns the result; failures are `isError` results, never thrown
 */
export async function runEditorCommand(
  root: string,
  input: unknown,
  policy: EditPolicy,
): Promise<EditorResult> {
  try {
    const args = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
    const command = args.command;
    if (typeof command !== 'string') fail('"command" is required: one of view, create, str_replace, insert');
    const { reportPath } = policy;
    if (reportPath !== undefined && typeof args.path === 'string' && isAbsolute(args.path)) {
      if (resolve(args.path) === reportPath) {
        await refuseSymlinkedReport(reportPath, args.path);
        return await execute(command, args, reportPath, args.path, {
          root,
          images: false,
          write: writeNoFollow,
        });
      }
    }
    if (policy.readOnly && command !== 'view') {
      const report = reportPath === undefined ? '' : `; write your report to ${reportPath}`;
      fail(`read-only profile: the editor may only view files; "${command}" is not allowed${report}`);
    }
    const path = stringArg(args, 'path');
    const { target, named } = locate(root, path);
    if (policy.editable !== undefined && CHANGING_COMMANDS.has(command)) {
      refuseUneditable(root, path, named, target, policy.editable);
    }
    return await execute(command, args, target, path, {
      root,
      images: policy.images,
      write: writeInWorktree,
    });
  } catch (error) {
    const message =
      error instanceof EditorError || isOrchestraError(error) ? error.message : errorMessage(error);
    return { content: `Error: ${message}`, isError: true, summary: message };
  }
}

async function execute(
  command: string,
  args: Record<string, unknown>,
  target: string,
  path: string,
  ctx: { root: string; images: boolean; write: WriteFile },
): Promise<EditorResult> {
  switch (command) {
    case 'view':
      return await view(ctx.root, target, path, args.view_range, ctx.images);
    case 'create':
      return await create(target, path, stringArg(args, 'file_text'), ctx.write);
    case 'str_replace':
      return await strReplace(
        target,
        path,
        stringArg(args, 'old_str'),
        optionalString(args, 'new_str') ?? '',
        ctx.write,
      );
    case 'insert': {
      const text = optionalString(args, 'insert_text') ?? optionalString(args, 'new_str');
      if (text === undefined) fail('"insert_text" is required for insert');
      return await insert(target, path, args.insert_line, text, ctx.write);
    }
    case 'undo_edit':
      fail('undo_edit is not available in text_editor_20250728; make the reverse edit with str_replace');
      break;
    default:
      fail(`unknown command "${command}": use view, create, str_replace or insert`);
  }
}

/** The report must be a plain file: a symlink there could point a write anywhere. */
async function refuseSymlinkedReport(reportPath: string, path: string): Promise<void> {
  const info = await lstat(reportPath).catch(() => undefined);
  if (info !== undefined && !info.isFile()) fail(`"${path}" is not a regular file; the report must be one`);
}

/**
 * Refuses a change unless both the path as named and the file it leads to (through symlinks)
 * match one of `editable`.
 */
function refuseUneditable(
  root: string,
  path: string,
  named: string,
  target: string,
  editable: readonly string[],
): void {
  const patterns = editable.join(', ');
  if (!matchesAnyGlob(named, editable)) {
    fail(`"${path}" is not editable by this profile: it may change only files matching ${patterns}`);
  }
  const leads = relative(confinePath(root, '.'), target).split(sep).join('/');
  if (!matchesAnyGlob(leads, editable)) {
    fail(
      `"${path}" leads through a symlink to "${leads}", which this profile may not change (editable: ${patterns})`,
    );
  }
}

function stringArg(args: Record<string, unknown>, name: string): string {
  const value = args[name];
  if (typeof value !== 'string') fail(`"${name}" is required and must be a string`);
  return value;
}

function optionalString(args: Record<string, unknown>, name: string): string | undefined {
  const value = args[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') fail(`"${name}" must be a string`);
  return value;
}

/**
 * The absolute, symlink-resolved path of `path` inside `root`.
 *
 * @throws EditorError / OrchestraError PATH_ESCAPE when it leaves the worktree or names `.git`
 */
export function resolveEditorPath(root: string, path: string): string {
  return locate(root, path).target;
}

/**
 * `target`: the absolute, symlink-resolved path of `path` inside `root`; `named`: the path as the
 * model named it, relative to the worktree, normalised and `/`-separated (`docs/../a.md` is `a.md`).
 */
function locate(root: string, path: string): { target: string; named: string } {
  if (path.trim() === '') fail('"path" is empty');
  let rel = path;
  if (isAbsolute(path)) {
    const inside = [resolve(root), safeRealRoot(root)].find((r) => isInside(r, resolve(path)));
    if (inside === undefined) fail(`path "${path}" is outside the worktree ${root}`);
    rel = relative(inside, resolve(path)) || '.';
  }
  const target = confinePath(root, rel);
  const inRoot = relative(confinePath(root, '.'), target);
  if (inRoot === '.git' || inRoot.startsWith(`.git${sep}`))
    fail(`"${path}" is inside .git, which the editor does not touch`);
  return { target, named: posix.normalize(rel.split(sep).join('/')) };
}

function safeRealRoot(root: string): string {
  try {
    return confinePath(root, '.');
  } catch {
    return resolve(root);
  }
}

async function view(
  root: string,
  target: string,
  path: string,
  range: unknown,
  images: boolean,
): Promise<EditorResult> {
  const info = await stat(target).catch(() => fail(`"${path}" does not exist`));
  if (info.isDirectory()) {
    if (range !== undefined && range !== null) fail('view_range applies to files, not directories');
    const entries = await listDirectory(target);
    const shown = entries.slice(0, MAX_LISTING_ENTRIES);
    const more =
      entries.length > shown.length ? `\n... and ${entries.length - shown.length} more entries` : '';
    const display = relative(confinePath(root, '.'), target) || '.';
    return {
      content: `Files and directories up to 2 levels deep in ${display}, excluding hidden items and node_modules:\n${shown.join('\n')}${more}`,
      isError: false,
      summary: entries.length === 1 ? '1 entry' : `${entries.length} entries`,
    };
  }
  const mediaType = imageMediaType(await readHead(target, IMAGE_SIGNATURE_BYTES));
  if (mediaType !== undefined) return await viewImage(target, path, info.size, mediaType, range, images);
  const text = await readText(target, path);
  const lines = splitLines(text);
  let start = 1;
  let end = lines.length;
  if (range !== undefined && range !== null) {
    if (!Array.isArray(range) || range.length !== 2 || !range.every((n) => Number.isInteger(n))) {
      fail('view_range must be two integers [start, end]; end -1 means to the end of the file');
    }
    const [from, to] = range as [number, number];
    if (from < 1 || from > Math.max(lines.length, 1)) {
      fail(`view_range start ${from} is outside the file's lines 1-${lines.length}`);
    }
    if (to !== -1 && to < from) fail(`view_range end ${to} is before its start ${from}`);
    start = from;
    end = to === -1 ? lines.length : Math.min(to, lines.length);
  }
  let body = numbered(lines.slice(start - 1, end), start);
  let note = '';
  if (body.length > MAX_TOOL_OUTPUT_CHARS) {
    body = body.slice(0, MAX_TOOL_OUTPUT_CHARS);
    body = body.slice(0, body.lastIndexOf('\n') + 1);
    note = `\n[file view truncated at ${MAX_TOOL_OUTPUT_CHARS.toLocaleString('en-US')} characters: use view_range to see the rest]`;
  }
  return {
    content: `Here is the result of running \`cat -n\` on ${path}:\n${body}${note}`,
    isError: false,
    summary: end - start + 1 === 1 ? '1 line' : `${end - start + 1} lines`,
  };
}

/**
 * A `view` of an image: the image itself when the profile has `images`, else a line saying what
 * the file is, so the model does not take it for an unreadable file.
 */
async function viewImage(
  target: string,
  path: string,
  size: number,
  mediaType: ImageMediaType,
  range: unknown,
  images: boolean,
): Promise<EditorResult> {
  const format = imageFormatName(mediaType);
  const bytes = `${size.toLocaleString('en-US')} bytes`;
  if (range !== undefined && range !== null)
    fail(`view_range applies to text files; "${path}" is a ${format} image`);
  if (!images) {
    return {
      content: `${path} is a ${format} image (${bytes}); this profile does not show images to the model (profiles with "images": true, such as vision, do).`,
      isError: false,
      summary: `${format} image, not shown`,
    };
  }
  if (size > MAX_IMAGE_BYTES) {
    fail(
      `"${path}" is a ${format} image of ${bytes}; the Messages API takes images up to ${MAX_IMAGE_BYTES.toLocaleString('en-US')} bytes (5 MiB as base64): use a smaller image`,
    );
  }
  const data = await readFile(target);
  return {
    content: `Image ${path} (${mediaType}, ${bytes}):`,
    image: { mediaType, base64: data.toString('base64') },
    isError: false,
    summary: `${format} image · ${bytes}`,
  };
}

/** The first `count` bytes of the file (fewer when it is shorter). */
async function readHead(target: string, count: number): Promise<Uint8Array> {
  const handle = await open(target, 'r');
  try {
    const buffer = Buffer.alloc(count);
    const { bytesRead } = await handle.read(buffer, 0, count, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

async function create(
  target: string,
  path: string,
  fileText: string,
  write: WriteFile,
): Promise<EditorResult> {
  const existing = await stat(target).catch(() => undefined);
  if (existing?.isDirectory()) fail(`"${path}" is a directory`);
  await mkdir(dirname(target), { recursive: true });
  await write(target, fileText);
  const verb = existing ? 'overwritten' : 'created';
  const count = splitLines(fileText).length;
  const lines = count === 1 ? '1 line' : `${count} lines`;
  return { content: `File ${path} ${verb} (${lines}).`, isError: false, summary: `${verb}, ${lines}` };
}

async function strReplace(
  target: string,
  path: string,
  oldStr: string,
  newStr: string,
  write: WriteFile,
): Promise<EditorResult> {
  if (oldStr === '') fail('"old_str" is empty: give the exact text to replace');
  const text = await readText(target, path);
  const offsets = occurrences(text, oldStr);
  if (offsets.length === 0) {
    fail(
      `no match for old_str in ${path}: it must match the file exactly, whitespace and indentation included`,
    );
  }
  if (offsets.length > 1) {
    const lines = offsets.map((offset) => lineOf(text, offset));
    fail(
      `old_str occurs ${offsets.length} times in ${path} (lines ${lines.join(', ')}); it must occur exactly once, so include more surrounding context`,
    );
  }
  const offset = offsets[0]!;
  const updated = text.slice(0, offset) + newStr + text.slice(offset + oldStr.length);
  await write(target, updated);
  const firstLine = lineOf(updated, offset);
  const lastLine = firstLine + splitLines(newStr).length - 1;
  return {
    content: `The file ${path} has been edited. ${snippet(updated, firstLine, Math.max(firstLine, lastLine))}`,
    isError: false,
    summary: `replaced at line ${firstLine}`,
  };
}

async function insert(
  target: string,
  path: string,
  line: unknown,
  text: string,
  write: WriteFile,
): Promise<EditorResult> {
  if (!Number.isInteger(line))
    fail('"insert_line" is required: the line to insert after (0 = top of the file)');
  const content = await readText(target, path);
  const lines = splitLines(content);
  const after = line as number;
  if (after < 0 || after > lines.length) fail(`insert_line ${after} is outside 0-${lines.length}`);
  const inserted = splitLines(text);
  const endsWithNewline = content === '' || content.endsWith('\n');
  const out = [...lines.slice(0, after), ...inserted, ...lines.slice(after)];
  const updated = out.join('\n') + (endsWithNewline && out.length > 0 ? '\n' : '');
  await write(target, updated);
  return {
    content: `The file ${path} has been edited. ${snippet(updated, after + 1, after + inserted.length)}`,
    isError: false,
    summary: `inserted ${inserted.length === 1 ? '1 line' : `${inserted.length} lines`} after line ${after}`,
  };
}

async function readText(target: string, path: string): Promise<string> {
  const info = await stat(target).catch(() => fail(`"${path}" does not exist`));
  if (info.isDirectory()) fail(`"${path}" is a directory`);
  const bytes = await readFile(target);
  if (bytes.includes(0)) fail(`"${path}" is a binary file`);
  return bytes.toString('utf8');
}

/** The file's lines, without the empty string a final newline would leave. */
function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/** `cat -n` format: the number right-aligned in six columns, a tab, the line. */
function numbered(lines: string[], first: number): string {
  return (
    lines.map((line, i) => `${String(first + i).padStart(6)}\t${line}`).join('\n') +
    (lines.length ? '\n' : '')
  );
}

function occurrences(text: string, needle: string): number[] {
  const out: number[] = [];
  for (let i = text.indexOf(needle); i !== -1; i = text.indexOf(needle, i + 1)) out.push(i);
  return out;
}

/** 1-based line number of the character at `offset`. */
function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function snippet(text: string, from: number, to: number): string {
  const lines = splitLines(text);
  const start = Math.max(1, from - SNIPPET_CONTEXT_LINES);
  const end = Math.min(lines.length, to + SNIPPET_CONTEXT_LINES);
  return `Lines ${start}-${end} now read:\n${numbered(lines.slice(start - 1, end), start)}`;
}

/** Entries up to two levels below `dir`, hidden ones and node_modules left out, sorted, dirs with `/`. */
async function listDirectory(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (abs: string, rel: string, depth: number) => {
    const entries = await readdir(abs, { withFileTypes: true });
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
      // Symlinked directories are listed but not entered: they may lead outside the worktree.
      if (entry.isDirectory()) {
        out.push(`${childRel}/`);
        if (depth < 2) await walk(join(abs, entry.name), childRel, depth + 1);
      } else {
        out.push(childRel);
      }
      if (out.length > MAX_LISTING_ENTRIES * 2) return;
    }
  };
  await walk(dir, '', 1);
  return out;
}
