/**
 * Where a worker host's Docker engine is, as `worker.hosts[].docker` spells it — the forms the
 * Docker CLI takes for `DOCKER_HOST` (https://docs.docker.com/engine/security/protect-access/):
 * `local` (this machine's engine: `DOCKER_HOST`, else the default socket), `unix:///path`,
 * `ssh://user@host[:port]` (the engine's API over SSH: `docker system dial-stdio` run there, with
 * the keys of `SSH_AUTH_SOCK`'s agent), or `tcp://host:port` (TLS when the host has `tls` files).
 * Pure: no I/O.
 */

/** A parsed engine address. Ports are numbers; `user` is required for SSH. */
export type DockerAddress =
  | { kind: 'local' }
  | { kind: 'unix'; path: string }
  | { kind: 'ssh'; user: string; host: string; port: number }
  | { kind: 'tcp'; host: string; port: number };

/** The address `text` names, or the one-line problem with it (for the config's error). */
export function parseDockerAddress(text: string): DockerAddress | { problem: string } {
  if (text === 'local') return { kind: 'local' };
  if (text.startsWith('unix://')) {
    const path = text.slice('unix://'.length);
    return path.startsWith('/')
      ? { kind: 'unix', path }
      : { problem: 'a unix:// address needs an absolute path' };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { problem: 'expected "local", "unix:///path", "ssh://user@host[:port]" or "tcp://host:port"' };
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!host) return { problem: 'no host name in the address' };
  if (url.pathname !== '' && url.pathname !== '/') return { problem: 'the address may not have a path' };
  if (url.protocol === 'ssh:') {
    if (!url.username) return { problem: 'an ssh:// address needs the user, e.g. ssh://me@build-1' };
    return {
      kind: 'ssh',
      user: decodeURIComponent(url.username),
      host,
      port: url.port ? Number(url.port) : 22,
    };
  }
  if (url.protocol === 'tcp:') {
    if (!url.port) return { problem: 'a tcp:// address needs the port, e.g. tcp://build-1:2376' };
    return { kind: 'tcp', host, port: Number(url.port) };
  }
  return {
    problem: `unsupported scheme ${url.protocol.replace(/:$/, '')}: use local, unix://, ssh:// or tcp://`,
  };
}
