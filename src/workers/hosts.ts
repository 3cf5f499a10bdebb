import { readFile } from 'node:fs/promises';
import path from 'node:path';
import Docker from 'dockerode';
import { errorMessage } from '../common/errors.js';
import { type DockerAddress, parseDockerAddress } from '../config/docker-address.js';
import type { OrchestraConfig } from '../config/schema.js';
import { dockerClient, engineUnreachableReason } from './docker-engine.js';
import { workerImageStatus, type workerImageVersion } from './image.js';
import { checkHostKey, knownHostsName } from './known-hosts.js';

/**
 * The machines whose Docker engines run workers (`worker.hosts`, issue 14): this machine's engine
 * by default, others over SSH (the Docker CLI's own mechanism, `docker system dial-stdio` run
 * there) or TCP with TLS. Each host has a capacity: how many attempts it runs at once.
 */

/** The host of a config without `worker.hosts`, and of every attempt placed before hosts existed. */
export const LOCAL_HOST = 'local';

/** One worker host, its address parsed. */
export interface WorkerHost {
  name: string;
  /** As written in the config, e.g. `ssh://me@build-1`. */
  docker: string;
  address: DockerAddress;
  tls?: { ca: string; cert: string; key: string };
  /** Attempts at once. */
  capacity: number;
  /** Memory for workers, MiB, when the config says. */
  memoryMb?: number;
  /** `ANTHROPIC_BASE_URL` for this host's workers, when set. */
  modelUrl?: string;
}

/** The hosts of `config`: `worker.hosts`, else this machine's engine with `maxParallel` slots. */
export function workerHosts(config: Pick<OrchestraConfig, 'worker' | 'maxParallel'>): WorkerHost[] {
  const hosts = config.worker.hosts ?? [{ name: LOCAL_HOST, docker: 'local', capacity: config.maxParallel }];
  return hosts.map((host) => {
    const address = parseDockerAddress(host.docker);
    // The schema refused anything else; a host built by hand gets the same answer.
    if ('problem' in address) throw new Error(`worker host ${host.name}: ${address.problem}`);
    return { ...host, address };
  });
}

/**
 * A dockerode client for `host`. SSH uses the keys of the ssh-agent at `env.SSH_AUTH_SOCK` (as the
 * Docker CLI does) and needs the `docker` CLI on the far side; TCP with `tls` reads the three PEM
 * files now.
 *
 * @param timeoutMs per request, ms (none by default; not applied over SSH — race the call instead)
 * @throws Error when a TLS file cannot be read
 */
export async function hostDocker(
  host: WorkerHost,
  env: NodeJS.ProcessEnv,
  timeoutMs?: number,
): Promise<Docker> {
  const address = host.address;
  const timeout = timeoutMs === undefined ? {} : { timeout: timeoutMs };
  switch (address.kind) {
    case 'local':
      return dockerClient(env, timeoutMs);
    case 'unix':
      return new Docker({ socketPath: address.path, ...timeout });
    case 'ssh': {
      // As `ssh` would: the server's key must be in known_hosts (ssh2 alone accepts any key).
      const knownHosts = env.HOME
        ? await readFile(path.join(env.HOME, '.ssh', 'known_hosts'), 'utf8').catch(() => '')
        : '';
      const hostVerifier = (key: Buffer) =>
        checkHostKey(knownHosts, address.host, address.port, key) === 'known';
      hideDockerModemUrlWarning();
      // No `timeout`: docker-modem would call setTimeout on the SSH channel, which has none.
      return new Docker({
        protocol: 'ssh',
        host: address.host,
        port: address.port,
        username: address.user,
        sshOptions: { ...(env.SSH_AUTH_SOCK ? { agent: env.SSH_AUTH_SOCK } : {}), hostVerifier },
      });
    }
    case 'tcp': {
      if (!host.tls)
        return new Docker({ protocol: 'http', host: address.host, port: address.port, ...timeout });
      const [ca, cert, key] = await Promise.all(
        [host.tls.ca, host.tls.cert, host.tls.key].map((f) => readFile(f)),
      );
      return new Docker({
        protocol: 'https',
        host: address.host,
        port: address.port,
        ca,
        cert,
        key,
        ...timeout,
      });
    }
  }
}

let urlDeprecationHidden = false;

/**
 * docker-modem 5 builds its request URL for an SSH engine with `url.parse`/`url.format` on a bare
 * host name, which Node 20 reports as DEP0170 ("The URL ssh:host:port... is invalid") once per
 * process. It says nothing a person can act on, so that one warning is dropped; every other
 * warning still reaches Node's own printer.
 */
function hideDockerModemUrlWarning(): void {
  if (urlDeprecationHidden) return;
  urlDeprecationHidden = true;
  const printers = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if ((warning as { code?: string }).code === 'DEP0170') return;
    for (const print of printers) print(warning);
  });
}

/** What `orchestra hosts` says of one host. */
export interface HostReport {
  name: string;
  docker: string;
  reachable: boolean;
  /** One line: why it could not be reached. */
  reason?: string;
  /** Engine version, when reachable. */
  version?: string;
  /** The worker image there: present, and built from this checkout's files. */
  image?: { tag: string; present: boolean; current: boolean | undefined };
  capacity: number;
  memoryMb?: number;
  /** Attempts of this repository's session running there now. */
  running: number;
}

/**
 * Why `host` did not answer, in one line: what is particular to SSH (sshd down, the host key, the
 * login), else the engine's own reasons (docker-engine.ts).
 */
function unreachableReason(error: unknown, host: WorkerHost): string {
  const e = error as NodeJS.ErrnoException & { level?: string };
  const where = host.docker;
  if (host.address.kind === 'ssh') {
    const { host: name, port, user } = host.address;
    if (e.code === 'ECONNREFUSED')
      return `the SSH server at ${where} refused the connection (sshd not running?)`;
    if (/verification failed/i.test(e.message ?? '')) {
      return `the SSH host key of ${knownHostsName(name, port)} is not in ~/.ssh/known_hosts, or it changed (check it, then \`ssh -p ${port} ${user}@${name}\` once to accept it)`;
    }
    if (e.level === 'client-authentication') {
      return `${where} refused the SSH login (is the key in the agent at SSH_AUTH_SOCK?)`;
    }
  }
  return engineUnreachableReason(error, where);
}

/**
 * Asks `host` for its engine version and the worker image `image`.
 *
 * @param options.running attempts the store has on this host
 * @param options.timeoutMs per request, ms (default 10 000: over SSH each request makes its own connection)
 * @returns never throws: an unreachable host is `reachable: false` with its reason
 */
export async function reportHost(
  host: WorkerHost,
  options: {
    image: string;
    /** {@link workerImageVersion} of this checkout, worked out once for all hosts. */
    expected?: string;
    running: number;
    env: NodeJS.ProcessEnv;
    timeoutMs?: number;
  },
): Promise<HostReport> {
  const report: HostReport = {
    name: host.name,
    docker: host.docker,
    reachable: false,
    capacity: host.capacity,
    running: options.running,
    ...(host.memoryMb === undefined ? {} : { memoryMb: host.memoryMb }),
  };
  const timeoutMs = options.timeoutMs ?? 10_000;
  const inTime = <T>(call: Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })),
        timeoutMs,
      );
      call.then(resolve, reject).finally(() => clearTimeout(timer));
    });
  try {
    const docker = await hostDocker(host, options.env, timeoutMs);
    const version = (await inTime(docker.version())) as { Version?: string };
    report.reachable = true;
    report.version = version.Version ?? 'unknown';
    const status = await inTime(
      workerImageStatus(options.image, {
        docker,
        ...(options.expected ? { expected: options.expected } : {}),
      }),
    );
    report.image = { tag: options.image, present: status.present, current: status.current };
  } catch (error) {
    if (!report.reachable) report.reason = unreachableReason(error, host);
    else report.reason = `the image could not be inspected: ${errorMessage(error)}`;
  }
  return report;
}
