import { readdir, readFile } from 'node:fs/promises';
import { basename, relative } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { OrchestraError } from '../../common/errors.js';
import type { OrchestraPaths } from '../../common/paths.js';
import { printable } from '../../common/printable.js';
import type { ReadonlyState } from '../../store/schema.js';
import { StateStore } from '../../store/store.js';
import { BUILTIN_STRATEGIES } from '../../strategies/builtin.js';
import { taskNumber } from '../../tasks/naming.js';
import {
  addTask,
  findTask,
  listTasks,
  loadQueuedTask,
  removeTask,
  type TaskEntry,
  taskNotFound,
} from '../../tasks/queue.js';
import type { NewTask, TaskFile } from '../../tasks/task-file.js';
import type { CommandEnv } from '../command-env.js';
import { repoContext } from '../context.js';
import { formatTable, printJson } from '../output.js';
import { assertAdmissible } from '../task-admission.js';
import { queuedStatus, recordStatus, type TaskStatusView, type TaskWorld } from '../task-status.js';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of 1 or more');
  return n;
}

function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number of 0 or more');
  return n;
}

/** The TITLE cell of `task ls`: the title, and why the task is stuck or failed, as the board shows it. */
function describe(title: string | undefined, reason: string | undefined): string {
  if (title === undefined) return reason ?? '';
  return reason === undefined ? title : `${title}  (${reason})`;
}

/** One row of `task ls`: a task file (`file`, and the folder it is in as `state`) or a store record alone. */
type ListedTask = Omit<TaskEntry, 'file' | 'state'> &
  Partial<Pick<TaskEntry, 'file' | 'state'>> &
  TaskStatusView;

/** The store's state, for reading only; a missing file is an empty state. */
async function readState(env: CommandEnv, paths: OrchestraPaths): Promise<ReadonlyState> {
  const store = await StateStore.open(paths.state, {
    onCorrupt: ({ movedTo, reason }) =>
      env.output.err(printable(`warning: state file was unreadable (${reason}); kept as ${movedTo}`)),
  });
  await store.close();
  return store.read();
}

/** Every task file, the store, and the queued files that parse (by id), which statuses are decided from. */
async function readTasks(
  env: CommandEnv,
  paths: OrchestraPaths,
): Promise<{ files: TaskEntry[]; world: TaskWorld; parsed: Map<string, TaskFile> }> {
  const files = await listTasks(paths, { all: true });
  const parsed = new Map<string, TaskFile>();
  const queued = new Map<number | undefined, TaskFile>();
  for (const e of files) {
    if (e.state !== 'queued' || e.error !== undefined) continue;
    // Read again for the whole task (dependsOn): a file that changed meanwhile counts as invalid.
    const task = await loadQueuedTask(paths, e.file).catch(() => undefined);
    if (!task) continue;
    parsed.set(e.id, task);
    queued.set(taskNumber(task.id), task);
  }
  return { files, world: { tasks: (await readState(env, paths)).tasks, queued }, parsed };
}

/**
 * The status of one listed file: a queued one is what the board says of its task (`invalid` when
 * it does not parse); an archive is its task's status when it is the archive the store names, else
 * what its folder says (a run before a retry); a rejected file stays `rejected`.
 */
function entryStatus(
  paths: OrchestraPaths,
  entry: TaskEntry,
  world: TaskWorld,
  parsed: ReadonlyMap<string, TaskFile>,
): TaskStatusView {
  const reason = entry.error ? { reason: entry.error } : {};
  if (entry.state === 'queued') {
    const task = parsed.get(entry.id);
    return task ? queuedStatus(task, world) : { status: 'invalid', reason: entry.error ?? 'cannot be read' };
  }
  const record = world.tasks[entry.id];
  if (entry.state !== 'rejected' && record?.archivedAs === relative(paths.dir, entry.file)) {
    return recordStatus(world.tasks[entry.id]);
  }
  return { status: entry.state, ...(entry.state === 'done' ? {} : reason) };
}

/** The names a task's `strategy` may take here: the built-ins, then `.orchestra/strategies/*.mjs`. */
async function strategyNames(paths: OrchestraPaths): Promise<string[]> {
  // No folder (or none readable): no custom strategies, as loadStrategy would find none either.
  const files = await readdir(paths.strategies).catch(() => [] as string[]);
  const custom = files
    .filter((f) => f.endsWith('.mjs') && !f.startsWith('.'))
    .map((f) => basename(f, '.mjs'));
  return [...new Set([...Object.keys(BUILTIN_STRATEGIES), ...custom.sort()])];
}

interface AddOptions {
  title?: string;
  accept?: string[];
  files?: string[];
  testPlan?: string[];
  strategy?: string;
  n?: number;
  agent?: string;
  profile?: string;
  dependsOn?: string[];
  maxAttempts?: number;
  budget?: number;
  json?: boolean;
}

/** Registers `orchestra task add|ls|show|rm`. */
export function registerTaskCommands(program: Command, env: CommandEnv): void {
  const task = program.command('task').description('manage the markdown task queue in .orchestra/tasks/');

  task
    .command('add')
    .description('queue a new task (task-NN.md); "-" reads a whole task file from standard input')
    .argument('<goal>', 'what the agent should achieve, or - to read a task file from stdin')
    .option('--title <title>', "short title (default: the goal's first line)")
    .option('--accept <criterion>', 'an acceptance criterion (repeatable)', collect)
    .option('--files <path>', 'a file to touch, relative to the repository (repeatable)', collect)
    .option('--test-plan <command>', 'a command that proves the task is done (repeatable)', collect)
    .option('--strategy <name>', 'single (default), best-of-n, refine, or a custom strategy')
    .addOption(new Option('-n, --n <count>', 'attempts for best-of-n').argParser(positiveInt))
    .option('--agent <name>', 'agent adapter from the config (default: defaultAgent)')
    .option('--profile <name>', 'agent profile (coder, architect, reviewer, ...)')
    .option('--depends-on <task>', 'a task that must be done first (repeatable)', collect)
    .addOption(
      new Option('--max-attempts <count>', 'check-fix rounds before the task fails').argParser(positiveInt),
    )
    .addOption(
      new Option('--budget <usd>', 'spending limit for this task in USD').argParser(nonNegativeNumber),
    )
    .option('--json', 'print the new task as JSON')
    .action(async (goal: string, opts: AddOptions) => {
      const { paths } = await repoContext(env.cwd);
      // A task that could never run is refused before its file is written (issue 10).
      const strategies = await strategyNames(paths);
      const { files, world } = await readTasks(env, paths);
      const archived = new Set(
        files.filter((e) => e.state === 'done' || e.state === 'failed').map((e) => e.id),
      );
      const check = { check: (t: TaskFile) => assertAdmissible(t, { strategies, world, archived }) };
      let added: { id: string; path: string };
      if (goal === '-') {
        const text = await env.readStdin();
        if (text.trim() === '') {
          throw new OrchestraError('USAGE', 'standard input was empty', {
            hint: 'pipe a task file in, e.g. `orchestra task add - < task.md`',
          });
        }
        added = await addTask(paths, { text }, check);
      } else {
        if (goal.trim() === '') {
          throw new OrchestraError('USAGE', 'the goal is empty', {
            hint: 'say what the agent should achieve',
          });
        }
        const input: NewTask = {
          title: opts.title ?? goal.split('\n')[0]!.slice(0, 80),
          goal,
          accept: opts.accept,
          files: opts.files,
          testPlan: opts.testPlan,
          strategy: opts.strategy,
          n: opts.n,
          agent: opts.agent,
          profile: opts.profile,
          dependsOn: opts.dependsOn,
          maxAttempts: opts.maxAttempts,
          budgetUsd: opts.budget,
        };
        added = await addTask(paths, input, check);
      }
      if (opts.json) printJson(env.output, added);
      else env.output.out(printable(`queued ${added.id} (${added.path})`));
    });

  task
    .command('ls')
    .description('list queued tasks in the order they run (task-2 before task-10), with their status')
    .option('-a, --all', 'include done, failed, merged, dropped and rejected tasks')
    .option('--json', 'print as JSON')
    .action(async (opts: { all?: boolean; json?: boolean }) => {
      const { paths } = await repoContext(env.cwd);
      const all = opts.all ?? false;
      const { files, world, parsed } = await readTasks(env, paths);
      const rows: ListedTask[] = files
        .filter((e) => all || e.state === 'queued')
        .map((e) => ({ ...e, ...entryStatus(paths, e, world, parsed) }));
      // Tasks the store knows that no file shows: started ones whose file was removed, dropped ones.
      const listed = new Set(files.map((e) => e.id));
      for (const record of Object.values(world.tasks)) {
        if (listed.has(record.id)) continue;
        const view = recordStatus(world.tasks[record.id]);
        if (!all && view.status !== 'running') continue;
        rows.push({
          id: record.id,
          ...(record.title !== undefined ? { title: record.title } : {}),
          strategy: record.strategy,
          ...view,
        });
      }
      if (opts.json) {
        printJson(env.output, rows);
        return;
      }
      if (rows.length === 0) {
        env.output.out(all ? 'no tasks' : 'no queued tasks (add one with `orchestra task add "<goal>"`)');
        return;
      }
      const table = [['ID', 'STATUS', 'STRATEGY', 'TITLE']];
      for (const r of rows) table.push([r.id, r.status, r.strategy ?? '-', describe(r.title, r.reason)]);
      for (const line of formatTable(table)) env.output.out(line);
    });

  task
    .command('show')
    .description('print a task file (queued or archived)')
    .argument('<id>', 'task id: task-03, 3 or 03')
    .option('--json', 'print the parsed task as JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const { paths } = await repoContext(env.cwd);
      const found = await findTask(paths, id);
      if (!found) throw taskNotFound(id);
      if (opts.json) {
        printJson(env.output, found);
        return;
      }
      env.output.out(printable(`# ${found.file} (${found.state})`));
      env.output.out(printable((await readFile(found.file, 'utf8')).replace(/\n$/, ''), { multiline: true }));
    });

  task
    .command('pick')
    .description(
      "make another attempt the task's result instead of the strategy's pick (before it is merged)",
    )
    .argument('<id>', 'task id: task-03, 3 or 03')
    .argument('<attempt>', 'attempt: a2, 2 or its id (see `orchestra diff <id>`)')
    .action(async (id: string, attempt: string) => {
      const { paths } = await repoContext(env.cwd);
      const [{ pickWinner }, { StateStore }] = await Promise.all([
        import('../../scheduler/task-diff.js'),
        import('../../store/store.js'),
      ]);
      const store = await StateStore.open(paths.state);
      try {
        const picked = await pickWinner(store, id, attempt);
        env.output.out(
          printable(
            `${picked.taskId}: ${picked.attemptId} is its result now${picked.was ? ` (was ${picked.was})` : ''}; \`orchestra merge ${picked.taskId}\` lands it`,
          ),
        );
      } finally {
        await store.close();
      }
    });

  task
    .command('rm')
    .description('remove a queued task (archived tasks are kept)')
    .argument('<id>', 'task id: task-03, 3 or 03')
    .action(async (id: string) => {
      const { paths } = await repoContext(env.cwd);
      const removed = await removeTask(paths, id);
      env.output.out(printable(`removed ${removed.id} (${removed.file})`));
    });
}
