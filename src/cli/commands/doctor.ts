import { access } from 'node:fs/promises';
import { relative } from 'node:path';
import type { Command } from 'commander';
import { errorMessage } from '../../common/errors.js';
import { orchestraPaths } from '../../common/paths.js';
import { printable } from '../../common/printable.js';
import { loadConfig } from '../../config/load.js';
import { defaultConfig } from '../../config/schema.js';
import { commitHasPath, findRepoRoot, gitVersion, hasCommit, uncommittedPaths } from '../../git/repo.js';
import { dockerClient, probeDocker } from '../../workers/docker-engine.js';
import { workerImageStatus } from '../../workers/image.js';
import type { CommandEnv } from '../command-env.js';
import { printJson, QuietExit } from '../output.js';

/** One line of the doctor's report. `fail` makes `orchestra doctor` exit 1; `warn` does not. */
export interface DoctorCheck {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  /** What to do about a warning or a failure, when the detail does not say it. */
  hint?: string;
}

/** Paths a `git status` finding names before it says "and N more". */
const SHOWN_PATHS = 3;

/**
 * What attempts will start from (src/git/worktree.ts `createWorktree`): the last commit of
 * `baseBranch`, in a repository of their own. So a repository with no commits cannot run a task,
 * uncommitted changes never reach an attempt, and a config file that is not committed is read by
 * orchestra here (config/load.ts reads the working tree) but is missing from every attempt's
 * repository and from other clones.
 */
async function commitChecks(root: string, baseBranch: string, configLoaded: boolean): Promise<DoctorCheck[]> {
  try {
    if (!(await hasCommit(root))) {
      return [
        {
          name: 'commits',
          status: 'fail',
          detail: 'the repository has no commits yet; attempts start from a commit, so no task can run',
          hint: 'commit your files first: git add -A && git commit -m "initial"',
        },
      ];
    }
    const checks: DoctorCheck[] = [];
    const configFile = relative(root, orchestraPaths(root).config);
    const base = (await hasCommit(root, `refs/heads/${baseBranch}`)) ? `refs/heads/${baseBranch}` : 'HEAD';
    const baseName = base === 'HEAD' ? 'HEAD' : baseBranch;
    const configUncommitted =
      configLoaded &&
      (await access(orchestraPaths(root).config).then(
        () => true,
        () => false,
      )) &&
      !(await commitHasPath(root, base, configFile));
    if (configUncommitted) {
      checks.push({
        name: 'config in git',
        status: 'warn',
        detail: `${configFile} is not committed on ${baseName}: orchestra here reads it from the working tree (attempts' setup and checks and the merge gate follow it), but no commit holds it, so attempts' repositories lack it and other clones run with defaults (no checks)`,
        hint: `commit it: git add ${configFile} && git commit -m "orchestra config"`,
      });
    }
    const changed = (await uncommittedPaths(root)).filter((p) => !(configUncommitted && p === configFile));
    if (changed.length > 0) {
      const shown = changed.slice(0, SHOWN_PATHS).join(', ');
      const more = changed.length > SHOWN_PATHS ? ` and ${changed.length - SHOWN_PATHS} more` : '';
      checks.push({
        name: 'uncommitted',
        status: 'warn',
        detail: `${changed.length} uncommitted change${changed.length === 1 ? '' : 's'} (${shown}${more}); attempts start from ${baseName}'s last commit and are left without them`,
        hint: `commit what the tasks need on ${baseName}, or stash it; \`git status\` lists it all`,
      });
    } else {
      checks.push({ name: 'uncommitted', status: 'ok', detail: 'none; attempts see the tree as committed' });
    }
    return checks;
  } catch (error) {
    return [{ name: 'commits', status: 'fail', detail: errorMessage(error) }];
  }
}

/** Loads node-pty and runs `true` on a real PTY, to prove the native module works here. */
async function probeNodePty(): Promise<DoctorCheck> {
  try {
    const pty = await import('node-pty');
    const exitCode = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('a PTY child did not exit within 5 s')), 5000);
      const child = pty.spawn('/bin/sh', ['-c', 'exit 0'], { cols: 80, rows: 24 });
      child.onExit(({ exitCode: code }) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
    return {
      name: 'node-pty',
      status: exitCode === 0 ? 'ok' : 'fail',
      detail: `loads; a PTY child exited ${exitCode}`,
    };
  } catch (error) {
    return {
      name: 'node-pty',
      status: 'fail',
      detail: `${errorMessage(error)} (reinstall with \`npm rebuild node-pty\`; it needs python3, make and g++)`,
    };
  }
}

/** Runs every check; never throws. */
export async function runDoctor(env: CommandEnv): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const git = await gitVersion();
  checks.push(
    git
      ? { name: 'git', status: 'ok', detail: git }
      : { name: 'git', status: 'fail', detail: 'git not found on PATH (install git)' },
  );
  let root: string | undefined;
  try {
    root = await findRepoRoot(env.cwd);
    checks.push({ name: 'repository', status: 'ok', detail: root });
  } catch (error) {
    checks.push({ name: 'repository', status: 'fail', detail: errorMessage(error) });
  }
  let image = defaultConfig().worker.image;
  let sandbox = defaultConfig().sandbox;
  let baseBranch = defaultConfig().baseBranch;
  let configLoaded = false;
  if (root) {
    try {
      const { config, files } = await loadConfig(root, { env: env.env });
      image = config.worker.image;
      sandbox = config.sandbox;
      baseBranch = config.baseBranch;
      configLoaded = true;
      checks.push({
        name: 'config',
        status: 'ok',
        detail:
          files.length > 0
            ? `valid (${files.join(', ')})`
            : 'no config files; defaults (run `orchestra init`)',
      });
    } catch (error) {
      checks.push({ name: 'config', status: 'fail', detail: errorMessage(error) });
    }
    checks.push(...(await commitChecks(root, baseBranch, configLoaded)));
  }
  checks.push(await probeNodePty());
  const docker = await probeDocker(env.env);
  // Docker is optional (`sandbox: auto` falls back to local panes) unless the config demands it.
  const dockerMissingStatus = sandbox === 'docker' ? 'fail' : 'warn';
  if (docker.reachable) {
    checks.push({ name: 'docker', status: 'ok', detail: `engine ${docker.version} at ${docker.host}` });
    checks.push(await imageCheck(image, env.env, dockerMissingStatus));
  } else {
    checks.push({
      name: 'docker',
      status: dockerMissingStatus,
      detail: `${docker.reason}; agents run as local processes${sandbox === 'docker' ? ', but sandbox is "docker"' : ''}`,
    });
    checks.push({
      name: 'worker image',
      status: dockerMissingStatus,
      detail: `${image}: unknown (no engine)`,
    });
  }
  const apiKey = env.env.ANTHROPIC_API_KEY;
  checks.push(
    apiKey
      ? { name: 'ANTHROPIC_API_KEY', status: 'ok', detail: 'set' }
      : {
          name: 'ANTHROPIC_API_KEY',
          status: 'warn',
          detail: 'not set (the built-in agent needs it for a real model)',
        },
  );
  if (env.env.ANTHROPIC_BASE_URL) {
    checks.push({ name: 'ANTHROPIC_BASE_URL', status: 'ok', detail: env.env.ANTHROPIC_BASE_URL });
  }
  return checks;
}

/** Whether the worker image is built, and built from the current Dockerfile.worker and agent bundle. */
async function imageCheck(
  image: string,
  env: NodeJS.ProcessEnv,
  missingStatus: DoctorCheck['status'],
): Promise<DoctorCheck> {
  const name = 'worker image';
  try {
    const status = await workerImageStatus(image, { docker: dockerClient(env, 10_000) });
    if (!status.present) {
      return { name, status: missingStatus, detail: `${image} not built (run \`orchestra image build\`)` };
    }
    if (status.current === false) {
      return {
        name,
        status: 'warn',
        detail: `${image} is out of date (version ${status.version ?? 'none'}, current ${status.expected}); run \`orchestra image build\``,
      };
    }
    return { name, status: 'ok', detail: `${image} present and current (version ${status.version})` };
  } catch (error) {
    return { name, status: missingStatus, detail: `${image} could not be inspected: ${errorMessage(error)}` };
  }
}

const MARK = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' } as const;

/** Registers `orchestra doctor`. */
export function registerDoctorCommand(program: Command, env: CommandEnv): void {
  program
    .command('doctor')
    .description('check git, the repository, config, node-pty, Docker, the worker image and the API key')
    .option('--json', 'print the checks as JSON')
    .action(async (opts: { json?: boolean }) => {
      const checks = await runDoctor(env);
      if (opts.json) printJson(env.output, checks);
      else {
        const width = Math.max(...checks.map((c) => c.name.length));
        for (const c of checks) {
          env.output.out(printable(`${MARK[c.status]}  ${c.name.padEnd(width)}  ${c.detail}`));
          if (c.hint)
            env.output.out(printable(`${' '.repeat(MARK[c.status].length + width + 4)}hint: ${c.hint}`));
        }
      }
      if (checks.some((c) => c.status === 'fail')) throw new QuietExit(1);
    });
}
