import { mkdir, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { orchestraPaths } from '../../common/paths.js';
import { configTemplate } from '../../config/template.js';
import { currentBranch, findRepoRoot } from '../../git/repo.js';
import type { CommandEnv } from '../command-env.js';
import { printJson } from '../output.js';

/**
 * `.orchestra/.gitignore`: everything below is ignored except the config, custom strategies and
 * the ignore file itself (DESIGN.md, "On disk"). Strategies are code the team shares, so they are
 * kept too.
 */
export const ORCHESTRA_GITIGNORE = `# Written by \`orchestra init\`: keep only the shared config and custom strategies in git.
*
!.gitignore
!orchestra.json
!strategies/
!strategies/**
`;

/** Creates `path` with `content` unless it exists; returns true when it wrote the file. */
async function writeIfMissing(path: string, content: string): Promise<boolean> {
  try {
    await writeFile(path, content, { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/**
 * `orchestra init`: sets up `.orchestra/` in the current repository. Idempotent: existing files are
 * never overwritten.
 */
export async function runInit(env: CommandEnv): Promise<{ root: string; created: string[] }> {
  const root = await findRepoRoot(env.cwd);
  const paths = orchestraPaths(root);
  const created: string[] = [];
  for (const dir of [
    paths.dir,
    paths.tasks,
    paths.done,
    paths.failed,
    paths.rejected,
    paths.runs,
    paths.worktrees,
    paths.logs,
  ]) {
    const made = await mkdir(dir, { recursive: true });
    if (made !== undefined) created.push(dir);
  }
  const baseBranch = (await currentBranch(root)) ?? 'main';
  if (await writeIfMissing(paths.config, configTemplate({ baseBranch }))) created.push(paths.config);
  if (await writeIfMissing(paths.gitignore, ORCHESTRA_GITIGNORE)) created.push(paths.gitignore);
  return { root, created };
}

/** Registers `orchestra init`. */
export function registerInitCommand(program: Command, env: CommandEnv): void {
  program
    .command('init')
    .description('set up .orchestra/ (config, task queue folders, .gitignore) in this git repository')
    .option('--json', 'print what was created as JSON')
    .action(async (opts: { json?: boolean }) => {
      const { root, created } = await runInit(env);
      if (opts.json) {
        printJson(env.output, { root, created });
        return;
      }
      if (created.length === 0) {
        env.output.out(`orchestra is already set up in ${root}; nothing changed`);
        return;
      }
      env.output.out(`orchestra set up in ${root}`);
      for (const path of created) env.output.out(`  created ${path.slice(root.length + 1)}`);
      env.output.out(
        'next: edit .orchestra/orchestra.json (setup, check), then `orchestra task add "<goal>"`',
      );
    });
}
