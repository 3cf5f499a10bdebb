import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { applyEdits, modify } from 'jsonc-parser';
import { OrchestraError } from '../../common/errors.js';
import { createSampleRepo, SAMPLE_TASKS } from '../../demo/sample-repo.js';
import { addTask, listTasks } from '../../tasks/queue.js';
import { repoContext } from '../context.js';
import type { CommandEnv } from '../main.js';
import { formatTable } from '../output.js';
import { runInit } from './init.js';

/** Registers `orchestra demo`. */
export function registerDemoCommand(program: Command, env: CommandEnv): void {
  program
    .command('demo')
    .description('create a sample repository with a test suite and three queued tasks, then open it')
    .argument('[dir]', 'where to create it (default: a new temporary directory)')
    .option('--no-tui', 'set it up and list the queue without opening the TUI')
    .action(async (dir: string | undefined, opts: { tui: boolean }) => {
      const target = dir ? resolve(env.cwd, dir) : await mkdtemp(join(tmpdir(), 'orchestra-demo-'));
      const existing = await readdir(target).catch(() => []);
      if (existing.length > 0) {
        throw new OrchestraError('USAGE', `${target} is not empty`, {
          hint: 'give a new or empty directory',
        });
      }
      await createSampleRepo(target);
      await runInit({ ...env, cwd: target });
      const { paths } = await repoContext(target);
      // The sample's own test suite is the check every attempt must pass.
      const text = await readFile(paths.config, 'utf8');
      await writeFile(paths.config, applyEdits(text, modify(text, ['check'], ['npm test'], {})));
      for (const text of SAMPLE_TASKS) await addTask(paths, { text });
      env.output.out(`demo repository: ${target}`);
      const rows = [['ID', 'STRATEGY', 'TITLE']];
      for (const t of await listTasks(paths)) rows.push([t.id, t.strategy ?? '-', t.title ?? '']);
      for (const line of formatTable(rows)) env.output.out(line);
      if (!opts.tui || !process.stdout.isTTY || !process.stdin.isTTY) {
        env.output.out(`open it with: cd ${target} && orchestra tui`);
        return;
      }
      const { main } = await import('../main.js');
      await main(['node', 'orchestra', 'tui'], { ...env, cwd: target });
    });
}
