import { lstat, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import type { Command } from 'commander';
import { OrchestraError } from '../../common/errors.js';
import { orchestraEntry } from '../../common/paths.js';
import { printable } from '../../common/printable.js';
import { loadConfig, userConfigHome } from '../../config/load.js';
import { repoSessionName } from '../../ipc/session-target.js';
import { probeSocket } from '../../ipc/socket-lock.js';
import { sanitizeSessionName, socketPath } from '../../protocol/socket-path.js';
import { RESTART_SEC, renderServerUnit, serverUnitName } from '../../server/systemd-unit.js';
import type { CommandEnv } from '../command-env.js';
import { repoContext } from '../context.js';

/** PATH for a unit written from an environment without one: what a login shell would start with. */
const FALLBACK_PATH = '/usr/local/bin:/usr/bin:/bin';

/** Where systemd's user manager reads the units of this user: `systemd/user/` of the config home. */
function userUnitDir(env: NodeJS.ProcessEnv): string {
  return join(userConfigHome(env), 'systemd', 'user');
}

/** The session a service command means: `-t`, else the one `orchestra tui` runs for the repository. */
async function serviceSession(env: CommandEnv, target: string | undefined, root: string): Promise<string> {
  if (target !== undefined) return sanitizeSessionName(target);
  return repoSessionName(root, (await loadConfig(root, { env: env.env })).config);
}

/**
 * PATH as this shell has it, with node's own directory first when missing: checks such as
 * `npm test` need `node`, and an nvm-installed node is often only on an interactive shell's PATH.
 */
function servicePath(env: NodeJS.ProcessEnv): string {
  const path = env.PATH || FALLBACK_PATH;
  const nodeDir = dirname(process.execPath);
  return path.split(delimiter).includes(nodeDir) ? path : `${nodeDir}${delimiter}${path}`;
}

async function install(env: CommandEnv, opts: { print?: boolean; target?: string }): Promise<void> {
  const { root } = await repoContext(env.cwd);
  const session = await serviceSession(env, opts.target, root);
  const environmentFile = join(userConfigHome(env.env), 'orchestra', 'env');
  const unit = renderServerUnit({
    session,
    root,
    node: process.execPath,
    entry: orchestraEntry(),
    path: servicePath(env.env),
    environmentFile,
    socketBase: env.env.ORCHESTRA_TMPDIR,
  });
  if (opts.print) {
    env.output.out(unit.trimEnd());
    return;
  }
  const name = serverUnitName(session);
  const file = join(userUnitDir(env.env), name);
  const before = await readFile(file, 'utf8').catch(() => undefined);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, unit, { mode: 0o644 });
  const out = (line: string) => env.output.out(printable(line));
  out(`${before === undefined ? 'wrote' : before === unit ? 'unchanged' : 'updated'} ${file}`);
  out('start it now and at every login:');
  out(`  systemctl --user daemon-reload && systemctl --user enable --now ${name}`);
  out('keep it running while you are logged out (and after a reboot):');
  out('  loginctl enable-linger');
  out(`secrets such as ANTHROPIC_API_KEY: KEY=value lines in ${environmentFile} (chmod 600)`);
  if ((await probeSocket(socketPath(session, env.env))) === 'live') {
    out(
      `session ${session} has a server already: end it with \`orchestra kill-server -t ${session}\` first, ` +
        `or the unit's server fails to start and tries again every ${RESTART_SEC} s`,
    );
  }
}

async function uninstall(env: CommandEnv, opts: { target?: string }): Promise<void> {
  const session =
    opts.target !== undefined
      ? sanitizeSessionName(opts.target)
      : await serviceSession(env, undefined, (await repoContext(env.cwd, true)).root);
  const name = serverUnitName(session);
  const dir = userUnitDir(env.env);
  // `systemctl --user enable` links the unit here ([Install] WantedBy=default.target); a unit
  // removed while linked leaves a dangling link and, until daemon-reload, a running server.
  const enabled = await lstat(join(dir, 'default.target.wants', name)).then(
    () => true,
    () => false,
  );
  if (enabled) {
    throw new OrchestraError('SERVICE_ENABLED', `${name} is still enabled`, {
      hint: `run \`systemctl --user disable --now ${name}\` first, then this again`,
    });
  }
  const file = join(dir, name);
  try {
    await rm(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    env.output.out(printable(`nothing to remove: ${file} does not exist`));
    return;
  }
  env.output.out(printable(`removed ${file}`));
  env.output.out('tell systemd: systemctl --user daemon-reload');
}

/** Registers `orchestra service install` and `orchestra service uninstall`. */
export function registerServiceCommands(program: Command, env: CommandEnv): void {
  const service = program
    .command('service')
    .description("run this repository's session server unattended, as a systemd user service");
  service
    .command('install')
    .description(`write a systemd user unit that runs the server and restarts it on failure`)
    .option('--print', 'print the unit instead of writing it')
    .option('-t, --target <session>', "session (default: this repository's)")
    .action((opts: { print?: boolean; target?: string }) => install(env, opts));
  service
    .command('uninstall')
    .description('remove the unit written by `service install` (disable it first)')
    .option('-t, --target <session>', "session (default: this repository's)")
    .action((opts: { target?: string }) => uninstall(env, opts));
}
