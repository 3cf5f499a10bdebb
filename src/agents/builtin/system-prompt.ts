import { codeFence } from '../../tasks/markdown.js';

/**
 * The built-in agent's system prompt: its role (the profile's `systemPrompt`, or the default coding
 * role), how it works in the worktree, the repository's memory, the task file's full text, the
 * repository's layout and the check commands. Pure: the caller gathers the inputs.
 */

/** The role of a profile without its own `systemPrompt`: a coding agent in a git worktree. */
export const DEFAULT_ROLE = `You are a careful software engineer working alone on one task in a git worktree of the repository. Make the change the task asks for, keep it focused, and follow the code's existing style. Read the relevant code before you edit it. Run the check commands (and any tests the task names) and fix what fails. When the change is done and the checks pass, call task_complete with a short summary of what you changed and how you verified it.`;

/** Most files of the layout listed in the prompt; a bigger repository is listed in part. */
export const MAX_LAYOUT_FILES = 400;

/** Inputs of {@link buildSystemPrompt}. */
export interface SystemPromptInput {
  /** The profile's systemPrompt, if any; replaces {@link DEFAULT_ROLE}. */
  role?: string;
  /** The worktree (the agent's cwd). */
  worktree: string;
  /** Task id, e.g. `task-03`, if known. */
  taskId?: string;
  /** The task file's full text. */
  taskText: string;
  /** `git ls-files` of the worktree, or undefined when it could not be listed. */
  files?: string[];
  /** Commands that must pass before the work is accepted. */
  checks: string[];
  readOnly: boolean;
  /** The profile's `editable` globs: the only files that may change (bash then only reads). */
  editable?: readonly string[];
  /** Absolute path of the report file the profile may write (`<run-dir>/report.md`). */
  reportPath?: string;
  /** The editor's `view` shows images. */
  images?: boolean;
  /** Which tools are offered. */
  tools: { bash: boolean; editor: boolean; taskComplete: boolean };
  /** The autonomy planner's run: propose_task is offered, at most `max` calls, ending the turn finishes. */
  proposals?: { max: number };
  /** The repository's memory (`.orchestra/memory.md`); empty or absent, no section. */
  memory?: string;
}

/** The system prompt text. */
export function buildSystemPrompt(input: SystemPromptInput): string {
  const parts: string[] = [input.role?.trim() || DEFAULT_ROLE];

  const how: string[] = [
    `Your working directory is the git worktree ${input.worktree}; all your work happens there.`,
  ];
  if (input.tools.editor) {
    how.push(
      'Editor paths are relative to the worktree root (absolute paths inside the worktree also work); paths outside it are refused.',
    );
  }
  if (input.tools.bash) {
    how.push(
      'The bash session persists between commands. Commands have no stdin and a time limit; long output is cut in the middle. Do not start interactive programs or servers that never exit.',
    );
  }
  if (input.readOnly) {
    const where = input.reportPath === undefined ? '' : ' in the worktree';
    how.push(
      `This is a read-only task: do not change any file${where}. The editor only views, and bash only runs commands that read (ls, cat, grep, find, git log/diff/show, ...).`,
    );
  } else if (input.editable !== undefined) {
    how.push(
      `You may change only files matching ${input.editable.map((g) => `\`${g}\``).join(', ')}; the editor refuses other paths, and bash only runs commands that read. Do not commit, push or switch branches: orchestra commits the worktree when you are done.`,
    );
  } else {
    how.push('Do not commit, push or switch branches: orchestra commits the worktree when you are done.');
  }
  if (input.reportPath !== undefined) {
    how.push(
      `Write your report with the editor to the report file ${input.reportPath} (its absolute path): it is the one file you may create there, and orchestra keeps it with the task's run.`,
    );
  }
  if (input.images) how.push('Viewing a PNG, JPEG, GIF or WebP file with the editor shows you the image.');
  how.push(
    'A human operator may watch and send you messages, marked [human operator]; follow their instructions.',
  );
  if (input.proposals !== undefined) {
    const { max } = input.proposals;
    how.push(
      `Propose tasks with propose_task: each call records one, at most ${max} in all. When you have proposed what you mean to, end your turn; that finishes your work.`,
    );
  } else if (input.tools.taskComplete) {
    how.push(
      'Call task_complete exactly once, when the task is finished; ending your turn without it waits for the human.',
    );
  }
  parts.push(`# How you work\n\n${how.map((line) => `- ${line}`).join('\n')}`);

  const memory = input.memory?.trim() ?? '';
  if (memory !== '') {
    // Fenced: the notes were written by a model from earlier tasks' results, so nothing in them can
    // pose as a heading of this prompt.
    const fence = codeFence(memory);
    parts.push(
      `# Repository memory\n\nNotes on this repository's conventions and lessons from earlier tasks (.orchestra/memory.md). They are context: the task and the human operator come first.\n\n${fence}markdown\n${memory}\n${fence}`,
    );
  }

  const title = input.taskId ? `# The task (${input.taskId})` : '# The task';
  parts.push(`${title}\n\n${input.taskText.trim()}`);

  if (input.files !== undefined)
    parts.push(`# Repository layout (git ls-files)\n\n${renderFileTree(input.files)}`);

  parts.push(
    input.checks.length > 0
      ? `# Checks\n\nThese commands must pass before your work is accepted; run them before you call task_complete:\n${input.checks.map((c) => `- \`${c}\``).join('\n')}`
      : '# Checks\n\nThe repository configures no check commands; run the tests the task or the repository names.',
  );
  return parts.join('\n\n');
}

/**
 * `git ls-files` output as an indented tree: a directory line (`src/`) then its entries two spaces
 * deeper. At most `max` files are shown; the rest are counted.
 */
export function renderFileTree(files: readonly string[], max = MAX_LAYOUT_FILES): string {
  if (files.length === 0) return '(no tracked files)';
  const sorted = [...files].sort();
  const shown = sorted.slice(0, max);
  const lines: string[] = [];
  let previous: string[] = [];
  for (const file of shown) {
    const parts = file.split('/');
    const dirs = parts.slice(0, -1);
    let common = 0;
    while (common < dirs.length && common < previous.length && dirs[common] === previous[common]) common++;
    for (let depth = common; depth < dirs.length; depth++) lines.push(`${'  '.repeat(depth)}${dirs[depth]}/`);
    lines.push(`${'  '.repeat(dirs.length)}${parts.at(-1)}`);
    previous = dirs;
  }
  if (sorted.length > shown.length) {
    lines.push(`... and ${sorted.length - shown.length} more files (run \`git ls-files\` to see them all)`);
  }
  return lines.join('\n');
}
