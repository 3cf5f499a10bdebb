import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { dockerClient } from './docker-engine.js';

/** What a command run in a container came to. */
export interface ContainerExecResult {
  /** null when it was stopped by the timeout. */
  exitCode: number | null;
  timedOut: boolean;
}

/**
 * Runs `command` in a running container (`docker exec`), as the container's user, in
 * `workingDir`, streaming stdout and stderr to `onOutput` as they come.
 *
 * @param timeoutMs after this long the exec's output is abandoned and the result says timed out
 *   (Docker has no way to kill one exec; the caller stops the container if it must)
 * @throws Error from dockerode when the container is not running
 */
export async function execInContainer(
  containerId: string,
  command: string[],
  options: {
    workingDir: string;
    env?: Record<string, string>;
    onOutput?: (chunk: string) => void;
    timeoutMs?: number;
    docker?: Docker;
  },
): Promise<ContainerExecResult> {
  const docker = options.docker ?? dockerClient();
  const exec = await docker.getContainer(containerId).exec({
    Cmd: command,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    WorkingDir: options.workingDir,
    Env: Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`),
  });
  const stream = await exec.start({ hijack: true, stdin: false });
  const sink = new PassThrough();
  sink.on('data', (chunk: Buffer) => options.onOutput?.(chunk.toString('utf8')));
  docker.modem.demuxStream(stream, sink, sink);
  const ended = new Promise<void>((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', () => resolve());
  });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    ended.then(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), options.timeoutMs ?? 10 * 60_000);
    }),
  ]);
  clearTimeout(timer);
  if (timedOut) {
    stream.destroy();
    return { exitCode: null, timedOut: true };
  }
  const info = await exec.inspect();
  return { exitCode: info.ExitCode ?? null, timedOut: false };
}
