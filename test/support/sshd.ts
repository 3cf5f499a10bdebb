import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * A real OpenSSH server on 127.0.0.1 for tests of SSH worker hosts (issue 14): its own host key,
 * config and authorized key, an ssh-agent holding the key, and a home whose known_hosts has the
 * server's key — so nothing of the machine's own SSH setup is read or changed. Needs `sshd`,
 * `ssh-keygen` and `ssh-agent` (Debian's openssh-server and openssh-client; `.ci/run` installs them).
 */

const run = promisify(execFile);
const SSHD = '/usr/sbin/sshd';

/** A running test sshd and what a client needs to reach it. */
export interface TestSshd {
  port: number;
  /** The login user: the one running the tests. */
  user: string;
  /** `ssh://user@127.0.0.1:port`. */
  url: string;
  /** Its process, to kill (the whole server) or find its children (one connection each). */
  process: ChildProcess;
  /** Environment for a client: `SSH_AUTH_SOCK` of the agent, `HOME` with the known_hosts. */
  env: { SSH_AUTH_SOCK: string; HOME: string };
  /** Stops sshd and the agent and removes the folder. */
  stop(): Promise<void>;
}

/** Why SSH tests cannot run here, or undefined when they can (CI makes a missing sshd a failure). */
export async function sshdSkipReason(): Promise<string | undefined> {
  try {
    await access(SSHD);
    return undefined;
  } catch {
    if (process.env.CI) throw new Error(`CI is set but ${SSHD} is missing (apt-get install openssh-server)`);
    return `no ${SSHD} (apt-get install openssh-server)`;
  }
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Starts sshd on a free port of 127.0.0.1 and an agent with the user's key.
 *
 * @param options.setEnv variables sshd sets for every session (`SetEnv`), e.g. a `DOCKER_HOST`
 *   naming a second engine, which `docker system dial-stdio` over this server then reaches
 */
export async function startSshd(options: { setEnv?: Record<string, string> } = {}): Promise<TestSshd> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orchestra-sshd-'));
  const home = path.join(dir, 'home');
  await mkdir(path.join(home, '.ssh'), { recursive: true, mode: 0o700 });
  for (const key of ['host_key', 'user_key']) {
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, key)]);
  }
  await writeFile(path.join(dir, 'authorized_keys'), await readFile(path.join(dir, 'user_key.pub')), {
    mode: 0o600,
  });
  const port = await freePort();
  const user = os.userInfo().username;
  await writeFile(
    path.join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${path.join(dir, 'host_key')}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      // The folder is the test's, in /tmp: sshd's ownership checks would refuse it.
      'StrictModes no',
      'UsePAM no',
      ...Object.entries(options.setEnv ?? {}).map(([name, value]) => `SetEnv ${name}=${value}`),
      '',
    ].join('\n'),
  );
  // sshd's privilege separation directory (Debian's unit makes it at boot).
  if (process.getuid?.() === 0) await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const sshd = spawn(SSHD, ['-D', '-e', '-f', path.join(dir, 'sshd_config')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  sshd.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  const hostKey = (await readFile(path.join(dir, 'host_key.pub'), 'utf8')).trim().split(/\s+/);
  await writeFile(
    path.join(home, '.ssh', 'known_hosts'),
    `[127.0.0.1]:${port} ${hostKey[0]} ${hostKey[1]}\n`,
  );
  const agentSock = path.join(dir, 'agent.sock');
  const agent = spawn('ssh-agent', ['-D', '-a', agentSock], { stdio: 'ignore' });
  for (let i = 0; ; i++) {
    const up = await access(agentSock).then(
      () => true,
      () => false,
    );
    if (up) break;
    if (i > 100) throw new Error('ssh-agent did not start');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await run('ssh-add', ['-q', path.join(dir, 'user_key')], {
    env: { ...process.env, SSH_AUTH_SOCK: agentSock },
  });
  // Listening once a connection is accepted.
  for (let i = 0; ; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) break;
    if (i > 100 || sshd.exitCode !== null) throw new Error(`sshd did not start: ${log}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    user,
    url: `ssh://${user}@127.0.0.1:${port}`,
    process: sshd,
    env: { SSH_AUTH_SOCK: agentSock, HOME: home },
    async stop() {
      sshd.kill('SIGTERM');
      agent.kill('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
