import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';

const run = promisify(execFile);

/**
 * A second Docker engine beside the machine's own, for tests of shipping the worker image to a
 * host that lacks it (issue 14.4): its own data root (so no image), exec root, pid file, socket,
 * and a bridge of its own with no iptables rules. Not `--bridge none`: a daemon without a bridge
 * deletes the `docker0` interface at start (moby's removeDefaultBridgeInterface), which takes the
 * network from the machine's own engine. Needs root (dockerd and `ip` do); `.ci/run` runs as root.
 */
export interface SecondDockerd {
  /** `unix:///…/docker.sock`. */
  host: string;
  docker: Docker;
  stop(): Promise<void>;
}

/** Why a second engine cannot start here, or undefined. */
export function secondDockerdSkipReason(): string | undefined {
  if (process.getuid?.() === 0) return undefined;
  if (process.env.CI)
    throw new Error('CI is set but the tests do not run as root: a second dockerd needs root');
  return 'a second dockerd needs root';
}

/** Starts the engine and waits (up to 30 s) until it answers. */
export async function startSecondDockerd(): Promise<SecondDockerd> {
  // Short paths: containerd's socket lives under the exec root and a socket path has 108 bytes.
  const dir = await mkdtemp('/tmp/od-');
  const socket = path.join(dir, 'docker.sock');
  // Interface names have at most 15 characters.
  const bridge = `od${randomBytes(3).toString('hex')}`;
  await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
  await run('ip', ['addr', 'add', `10.213.${randomBytes(1)[0] ?? 7}.1/24`, 'dev', bridge]);
  await run('ip', ['link', 'set', bridge, 'up']);
  let log = '';
  const daemon: ChildProcess = spawn(
    'dockerd',
    [
      '--data-root',
      path.join(dir, 'data'),
      '--exec-root',
      path.join(dir, 'exec'),
      '--pidfile',
      path.join(dir, 'docker.pid'),
      '--host',
      `unix://${socket}`,
      '--bridge',
      bridge,
      '--iptables=false',
      '--ip-masq=false',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  daemon.stderr?.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  });
  const docker = new Docker({ socketPath: socket });
  for (let i = 0; ; i++) {
    const up = await docker.ping().then(
      () => true,
      () => false,
    );
    if (up) break;
    if (i > 150 || daemon.exitCode !== null) {
      await run('ip', ['link', 'del', bridge]).catch(() => {});
      throw new Error(`the second dockerd did not start:\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    host: `unix://${socket}`,
    docker,
    async stop() {
      daemon.kill('SIGTERM');
      await new Promise((resolve) => {
        if (daemon.exitCode !== null) resolve(undefined);
        else daemon.once('exit', resolve);
      });
      await run('ip', ['link', 'del', bridge]).catch(() => {});
      await rm(dir, { recursive: true, force: true }).catch(() => {});
    },
  };
}
