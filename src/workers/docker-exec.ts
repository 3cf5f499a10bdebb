import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { dockerClient } from './docker-engine.js';

/** Most standard output kept by `captureStdout`, bytes (the largest bundle taken back is 256 MiB). */
export const MAX_CAPTURE_BYTES = 256 * 1024 * 1024;

/** What a command run in a container came to. */
export interface ContainerExecResult {
  /** null when it was stopped by the timeout. */
  exitCode: number | null;
  timedOut: boolean;
  /** Standard output as bytes, when `captureStdout` was asked for (then it is not in `onOutput`). */
  stdout?: Buffer;
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
    /** Keep standard output as bytes in the result (a bundle), and stream only stderr. */
    captureStdout?: boolean;
    timeoutMs?: number;
    /** Bytes for the command's standard input, which is then closed (default: no stdin). */
    stdin?: Buffer;
    docker?: Docker;
  },
): Promise<ContainerExecResult> {
  const docker = options.docker ?? dockerClient();
  const exec = await docker.getContainer(containerId).exec({
    Cmd: command,
    AttachStdin: options.stdin !== undefined,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    WorkingDir: options.workingDir,
    Env: Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`),
  });
  const stream = await exec.start({ hijack: true, stdin: options.stdin !== undefined });
  // Half-closing the hijacked connection is what closes the command's stdin (as `docker exec -i`).
  if (options.stdin !== undefined) stream.end(options.stdin);
  const sink = new PassThrough();
  sink.on('data', (chunk: Buffer) => options.onOutput?.(chunk.toString('utf8')));
  const captured: Buffer[] = [];
  const out = options.captureStdout ? new PassThrough() : sink;
  let capturedBytes = 0;
  if (options.captureStdout) {
    out.on('data', (chunk: Buffer) => {
      // Past the cap the rest is dropped: the caller gets a cut stream, which it refuses.
      if (capturedBytes > MAX_CAPTURE_BYTES) return;
      capturedBytes += chunk.length;
      captured.push(chunk);
    });
  }
  docker.modem.demuxStream(stream, out, sink);
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
  return {
    exitCode: info.ExitCode ?? null,
    timedOut: false,
    ...(options.captureStdout ? { stdout: Buffer.concat(captured) } : {}),
  };
}
