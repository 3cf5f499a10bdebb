import { readFile } from 'node:fs/promises';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { OrchestraError } from '../../common/errors.js';
import { addTask, findTask, listTasks, removeTask, taskNotFound } from '../../tasks/queue.js';
import type { NewTask } from '../../tasks/task-file.js';
import { repoContext } from '../context.js';
import type { CommandEnv } from '../main.js';
import { formatTable, printJson } from '../output.js';

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
      let added: { id: string; path: string };
      if (goal === '-') {
        const text = await env.readStdin();
        if (text.trim() === '') {
          throw new OrchestraError('USAGE', 'standard input was empty', {
            hint: 'pipe a task file in, e.g. `orchestra task add - < task.md`',
          });
        }
        added = await addTask(paths, { text });
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
        added = await addTask(paths, input);
      }
      if (opts.json) printJson(env.output, added);
      else env.output.out(`queued ${added.id} (${added.path})`);
    });

  task
    .command('ls')
    .description('list queued tasks in the order they run (task-2 before task-10)')
    .option('-a, --all', 'include done, failed and rejected tasks')
    .option('--json', 'print as JSON')
    .action(async (opts: { all?: boolean; json?: boolean }) => {
      const { paths } = await repoContext(env.cwd);
      const entries = await listTasks(paths, { all: opts.all ?? false });
      if (opts.json) {
        printJson(env.output, entries);
        return;
      }
      if (entries.length === 0) {
        env.output.out(
          opts.all ? 'no tasks' : 'no queued tasks (add one with `orchestra task add "<goal>"`)',
        );
        return;
      }
      const rows = [['ID', 'STATE', 'STRATEGY', 'TITLE']];
      for (const e of entries) rows.push([e.id, e.state, e.strategy ?? '-', e.title ?? e.error ?? '']);
      for (const line of formatTable(rows)) env.output.out(line);
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
      env.output.out(`# ${found.file} (${found.state})`);
      env.output.out((await readFile(found.file, 'utf8')).replace(/\n$/, ''));
    });

  task
    .command('rm')
    .description('remove a queued task (archived tasks are kept)')
    .argument('<id>', 'task id: task-03, 3 or 03')
    .action(async (id: string) => {
      const { paths } = await repoContext(env.cwd);
      const removed = await removeTask(paths, id);
      env.output.out(`removed ${removed.id} (${removed.file})`);
    });
}
