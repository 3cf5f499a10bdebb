import Docker from 'dockerode';

/** Whether a Docker engine answers, and if not, why (for `orchestra doctor` and `sandbox: auto`). */
export interface DockerProbe {
  reachable: boolean;
  /** Where the client looked: `DOCKER_HOST`, or the default Unix socket. */
  host: string;
  /** Engine version when reachable. */
  version?: string;
  /** One line saying why the engine could not be reached. */
  reason?: string;
}

/** Docker's default engine socket on Linux. */
export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

/** A dockerode client for `DOCKER_HOST` (tcp, ssh, unix) or the default socket. */
export function dockerClient(env: NodeJS.ProcessEnv = process.env, timeoutMs?: number): Docker {
  const options = dockerHostOptions(env);
  if (timeoutMs !== undefined) options.timeout = timeoutMs;
  return new Docker(options);
}

/**
 * Connection options for `env.DOCKER_HOST`. dockerode reads DOCKER_HOST, DOCKER_TLS_VERIFY and
 * DOCKER_CERT_PATH from `process.env` by itself (empty options); an `env` other than the process's
 * (a test, a `--docker-host` flag) is translated here: unix sockets, plain tcp and ssh.
 */
function dockerHostOptions(env: NodeJS.ProcessEnv): Docker.DockerOptions {
  const host = env.DOCKER_HOST;
  if (!host) return { socketPath: DEFAULT_DOCKER_SOCKET };
  if (host.startsWith('unix://'))
    return { socketPath: host.slice('unix://'.length) || DEFAULT_DOCKER_SOCKET };
  if (host === process.env.DOCKER_HOST) return {};
  try {
    const url = new URL(host.includes('//') ? host : `tcp://${host}`);
    if (url.protocol === 'ssh:') {
      return { protocol: 'ssh', host: url.hostname, port: url.port || 22, username: url.username };
    }
    return {
      protocol: env.DOCKER_TLS_VERIFY === '1' || url.port === '2376' ? 'https' : 'http',
      host: url.hostname,
      port: url.port || 2375,
    };
  } catch {
    // Not a URL: dockerode reports the problem when it connects.
    return {};
  }
}

/**
 * Why the engine at `host` did not answer, in one line, from the error dockerode gave (ENOENT,
 * ECONNREFUSED, EACCES, a timeout, else its message).
 */
export function engineUnreachableReason(error: unknown, host: string): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return `no Docker engine socket at ${host} (is dockerd installed and running?)`;
    case 'ECONNREFUSED':
      return `the Docker engine at ${host} refused the connection (dockerd not running?)`;
    case 'EACCES':
      return `permission denied on ${host} (add your user to the docker group)`;
    case 'ETIMEDOUT':
    case 'ESOCKETTIMEDOUT':
      return `the Docker engine at ${host} did not answer in time`;
    default:
      return `the Docker engine at ${host} did not answer: ${(error as Error).message ?? String(error)}`;
  }
}

/**
 * Pings the engine.
 *
 * @param timeoutMs how long to wait for an answer (default 3000 ms)
 * @returns never throws; an unreachable engine is reported in `reason`
 */
export async function probeDocker(
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 3000,
): Promise<DockerProbe> {
  const host = env.DOCKER_HOST ?? `unix://${DEFAULT_DOCKER_SOCKET}`;
  const docker = dockerClient(env, timeoutMs);
  try {
    await docker.ping();
    const version = (await docker.version()) as { Version?: string };
    return { reachable: true, host, version: version.Version ?? 'unknown' };
  } catch (error) {
    return { reachable: false, host, reason: engineUnreachableReason(error, host) };
  }
}

/** Whether `image` exists in the engine; undefined when the engine cannot be asked. */
export async function imagePresent(
  image: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<boolean | undefined> {
  try {
    await dockerClient(env, 5000).getImage(image).inspect();
    return true;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return false;
    return undefined;
  }
}
