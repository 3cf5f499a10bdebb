import { constants as fsConstants } from 'node:fs';
import { type FileHandle, mkdir, mkdtemp, open, rename, rmdir, unlink } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import type Docker from 'dockerode';
import { errorMessage, OrchestraError } from '../common/errors.js';

/**
 * Forwarders carry a worker's connections to its model endpoint, which the container cannot reach
 * by itself.
 *
 * - Network `bridge`: containers cannot reach the host's loopback, yet a model endpoint such as the
 *   scripted Messages API server listens on 127.0.0.1. A {@link LoopbackForwarder} listens on the
 *   Docker bridge's gateway address (the host's side of docker0, reachable from bridge containers
 *   only) and pipes each connection to the loopback target; the worker's URL is rewritten to it.
 * - Network `model-only` (model-network.ts): the container has no network; a relay inside it
 *   connects to a {@link SocketForwarder}, a Unix socket in the attempt's run directory, which
 *   connects to the endpoint (on the loopback or anywhere the host reaches).
 */

/** Where a forwarder connects: a host name or address and a TCP port. */
export interface ForwardTarget {
  host: string;
  port: number;
}

/** A host and port on the host's loopback. */
export type LoopbackTarget = ForwardTarget;

/** Where the Docker bridge meets the host: the address to listen on, and who may connect. */
export interface BridgeNetwork {
  /** Gateway address, usually 172.17.0.1. */
  gateway: string;
  /** The bridge's IPv4 subnet, e.g. 172.17.0.0/16, when the engine reports it. */
  subnet?: string;
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '']);

/** True for 127.0.0.0/8, localhost and ::1 (with or without brackets). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

function ipv4ToInt(address: string): number | undefined {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return undefined;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

/** Whether IPv4 `address` (or its IPv4-mapped IPv6 form) lies in `cidr` like 172.17.0.0/16. */
export function inSubnet(address: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  const a = ipv4ToInt(address.replace(/^::ffff:/, ''));
  const b = base === undefined ? undefined : ipv4ToInt(base);
  if (a === undefined || b === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) return false;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (a & mask) === (b & mask);
}

/**
 * Finds the gateway of Docker's default `bridge` network: the engine's IPAM Gateway when it reports
 * one; else the address of the bridge's host interface (`docker0`), which engines installed from
 * distribution packages often leave out of IPAM; else the subnet's first address, Docker's rule.
 *
 * @throws OrchestraError when the engine has no usable bridge network
 */
export async function dockerBridgeNetwork(docker: Docker): Promise<BridgeNetwork> {
  let info: {
    IPAM?: { Config?: { Subnet?: string; Gateway?: string }[] | null };
    Options?: Record<string, string> | null;
  };
  try {
    info = await docker.getNetwork('bridge').inspect();
  } catch (error) {
    throw new OrchestraError(
      'SPAWN_FAILED',
      `cannot inspect Docker's bridge network: ${errorMessage(error)}`,
      {
        hint: 'set worker.network to "none" or make the model endpoint reachable without loopback',
        cause: error,
      },
    );
  }
  const config = (info.IPAM?.Config ?? []).find(
    (c) => c.Subnet && ipv4ToInt(c.Subnet.split('/')[0] ?? '') !== undefined,
  );
  const subnet = config?.Subnet;
  const result = (gateway: string): BridgeNetwork => (subnet ? { gateway, subnet } : { gateway });
  if (config?.Gateway) return result(config.Gateway);
  const ifname = info.Options?.['com.docker.network.bridge.name'] ?? 'docker0';
  const iface = os.networkInterfaces()[ifname]?.find((a) => a.family === 'IPv4');
  if (iface && (!subnet || inSubnet(iface.address, subnet))) return result(iface.address);
  const base = subnet ? ipv4ToInt(subnet.split('/')[0] ?? '') : undefined;
  if (base !== undefined) {
    const first = base + 1;
    return result([first >>> 24, (first >>> 16) & 255, (first >>> 8) & 255, first & 255].join('.'));
  }
  throw new OrchestraError('SPAWN_FAILED', "Docker's bridge network reports no IPv4 gateway or subnet", {
    hint: 'check `docker network inspect bridge`',
  });
}

/**
 * Connects to `target` and pipes `client` to it both ways, tracking both sockets in `sockets` until
 * they close. A reset on either side ends both; the client in the container sees a closed
 * connection, as it would with the endpoint down.
 */
function pipeConnection(client: net.Socket, target: ForwardTarget, sockets: Set<net.Socket>): void {
  const upstream = net.connect(target.port, target.host);
  sockets.add(client);
  sockets.add(upstream);
  const close = () => {
    client.destroy();
    upstream.destroy();
    sockets.delete(client);
    sockets.delete(upstream);
  };
  client.on('error', close).on('close', close);
  upstream.on('error', close).on('close', close);
  client.pipe(upstream);
  upstream.pipe(client);
}

/** A listening TCP forwarder to one loopback target. */
export class LoopbackForwarder {
  private constructor(
    private readonly server: net.Server,
    /** Open connections, both sides, so close() can end them. */
    private readonly sockets: Set<net.Socket>,
    /** Address it listens on (the bridge gateway). */
    readonly host: string,
    /** Port it listens on. */
    readonly port: number,
    readonly target: LoopbackTarget,
  ) {}

  /**
   * Listens on `listenHost:port` (port 0: any free one) and forwards each connection to `target`.
   * Connections from outside `allowSubnet` are closed at once, so only containers on the bridge
   * reach the host's loopback service through it.
   *
   * @throws OrchestraError for a wildcard listen address, or when the address cannot be bound
   *   (no such interface here: a remote Docker engine)
   */
  static async start(options: {
    listenHost: string;
    port?: number;
    target: LoopbackTarget;
    allowSubnet?: string;
  }): Promise<LoopbackForwarder> {
    if (WILDCARD_HOSTS.has(options.listenHost)) {
      throw new OrchestraError('INTERNAL', 'refusing to forward a loopback service on a wildcard address');
    }
    const sockets = new Set<net.Socket>();
    const server = net.createServer((client) => {
      if (options.allowSubnet && !inSubnet(client.remoteAddress ?? '', options.allowSubnet)) {
        client.destroy();
        return;
      }
      pipeConnection(client, options.target, sockets);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: options.listenHost, port: options.port ?? 0 }, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((error: unknown) => {
      throw new OrchestraError(
        'SPAWN_FAILED',
        `cannot listen on ${options.listenHost}:${options.port ?? 0} to forward ${options.target.host}:${options.target.port} into containers: ${errorMessage(error)}`,
        {
          hint: 'a loopback endpoint can reach containers only from the machine running the Docker engine; use an address the engine can reach instead',
          cause: error,
        },
      );
    });
    const address = server.address() as net.AddressInfo;
    return new LoopbackForwarder(server, sockets, options.listenHost, address.port, options.target);
  }

  /** `host:port` as a URL authority. */
  get authority(): string {
    return `${this.host}:${this.port}`;
  }

  /** Stops listening and ends open connections. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Listens on the bridge gateway; supplied by the pool's owner so tests and remote engines can differ. */
export type BridgeResolver = () => Promise<BridgeNetwork>;

/**
 * One forwarder per loopback target, shared by every worker of a server (so ten workers talking to
 * the same model endpoint use one listener).
 */
export class LoopbackForwarderPool {
  private readonly forwarders = new Map<string, Promise<LoopbackForwarder>>();
  private bridge: Promise<BridgeNetwork> | undefined;

  /** @param resolveBridge where to listen; usually `() => dockerBridgeNetwork(docker)` */
  constructor(private readonly resolveBridge: BridgeResolver) {}

  /** The bridge network the pool listens on (resolved once). */
  network(): Promise<BridgeNetwork> {
    this.bridge ??= this.resolveBridge();
    return this.bridge;
  }

  /**
   * The forwarder for `target`, started on first use. `port` asks for a listener on that port (a
   * restarted server re-creating the forwarder a running container's URL already names); each
   * such port gets its own listener, and the first one also serves later calls without a port.
   *
   * @throws OrchestraError when it cannot listen
   */
  forward(target: LoopbackTarget, port?: number): Promise<LoopbackForwarder> {
    const targetKey = `${target.host}:${target.port}`;
    const key = port === undefined ? targetKey : `${targetKey}@${port}`;
    let forwarder = this.forwarders.get(key);
    if (!forwarder && port !== undefined) {
      const shared = this.forwarders.get(targetKey);
      // The shared listener may already be on the wanted port.
      if (shared) forwarder = shared.then((f) => (f.port === port ? f : this.startOn(key, target, port)));
    }
    if (!forwarder) {
      forwarder = this.start(target, port);
      this.forwarders.set(key, forwarder);
      if (port !== undefined && !this.forwarders.has(targetKey)) this.forwarders.set(targetKey, forwarder);
      // A failed start is not cached, so a later call can try again.
      const started = forwarder;
      started.catch(() => {
        for (const [k, f] of this.forwarders) if (f === started) this.forwarders.delete(k);
      });
    }
    return forwarder;
  }

  private startOn(key: string, target: LoopbackTarget, port: number): Promise<LoopbackForwarder> {
    const existing = this.forwarders.get(key);
    if (existing) return existing;
    const started = this.start(target, port);
    this.forwarders.set(key, started);
    started.catch(() => this.forwarders.delete(key));
    return started;
  }

  private start(target: LoopbackTarget, port: number | undefined): Promise<LoopbackForwarder> {
    return this.network().then((bridge) =>
      LoopbackForwarder.start({
        listenHost: bridge.gateway,
        target,
        ...(port === undefined ? {} : { port }),
        ...(bridge.subnet === undefined ? {} : { allowSubnet: bridge.subnet }),
      }),
    );
  }

  /** Closes every forwarder. */
  async closeAll(): Promise<void> {
    const all = [...new Set(this.forwarders.values())];
    this.forwarders.clear();
    await Promise.all(all.map((f) => f.then((x) => x.close()).catch(() => undefined)));
  }
}

/** A URL in an env value whose host is on the loopback: the parts around its authority. */
interface LoopbackUrl {
  /** Everything before the host (`http://` plus any `user:pass@`). */
  prefix: string;
  /** Everything after the port (path, query, fragment), exactly as written. */
  rest: string;
  target: LoopbackTarget;
}

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443, 'ws:': 80, 'wss:': 443 };

/** An http(s)/ws(s) URL cut around its authority, everything else exactly as written. */
export interface UrlParts {
  /** Everything before the host (`https://` plus any `user:pass@`). */
  prefix: string;
  /** The host as written: a name, an IPv4 address or a bracketed IPv6 address. */
  host: string;
  /** The explicit port, else the scheme's default (80 or 443). */
  port: number;
  /** Whether the URL names its port. */
  explicitPort: boolean;
  /** Everything after the port (path, query, fragment). */
  rest: string;
}

/** Cuts `value` into {@link UrlParts}; undefined for anything but an http(s)/ws(s) URL with a host. */
export function splitUrl(value: string): UrlParts | undefined {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#@]*@)?(\[[^\]]*\]|[^/?#:]*)(?::(\d+))?(.*)$/i.exec(
    value.trim(),
  );
  if (!match) return undefined;
  const [, scheme = '', userinfo = '', host = '', portText, rest = ''] = match;
  const defaultPort = DEFAULT_PORTS[scheme.slice(0, -2).toLowerCase()];
  if (defaultPort === undefined || host === '') return undefined;
  if (rest !== '' && !/^[/?#]/.test(rest)) return undefined;
  const port = portText ? Number(portText) : defaultPort;
  if (port < 1 || port > 65535) return undefined;
  return { prefix: scheme + userinfo, host, port, explicitPort: portText !== undefined, rest };
}

/** Parses `value` as an http(s)/ws(s) URL on a loopback host; undefined for anything else. */
export function parseLoopbackUrl(value: string): LoopbackUrl | undefined {
  const url = splitUrl(value);
  if (!url || !isLoopbackHost(url.host)) return undefined;
  const bare = url.host.replace(/^\[|\]$/g, '');
  return {
    prefix: url.prefix,
    rest: url.rest,
    target: { host: bare.toLowerCase() === 'localhost' ? '127.0.0.1' : bare, port: url.port },
  };
}

/** One rewritten variable, for logs and for re-creating the forwarder after a server restart. */
export interface ForwardedEndpoint {
  name: string;
  target: LoopbackTarget;
  /** Port the forwarder listens on (on the bridge gateway). */
  port: number;
}

/**
 * Rewrites every env value that is a URL on the host's loopback to go through a forwarder of
 * `pool`, keeping scheme, credentials, path and query as written.
 *
 * @returns the new env (the input is not changed) and what was forwarded
 * @throws OrchestraError when a forwarder cannot be started
 */
export async function forwardLoopbackEnv(
  env: Readonly<Record<string, string>>,
  pool: LoopbackForwarderPool,
): Promise<{ env: Record<string, string>; forwarded: ForwardedEndpoint[] }> {
  const out: Record<string, string> = { ...env };
  const forwarded: ForwardedEndpoint[] = [];
  for (const [name, value] of Object.entries(env)) {
    const url = parseLoopbackUrl(value);
    if (!url) continue;
    const forwarder = await pool.forward(url.target);
    out[name] = `${url.prefix}${forwarder.authority}${url.rest}`;
    forwarded.push({ name, target: url.target, port: forwarder.port });
  }
  return { env: out, forwarded };
}

const DIR_FLAGS = fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | fsConstants.O_NOFOLLOW;

/**
 * A directory opened without following symlinks and addressed through `/proc/self/fd/<fd>`, so
 * a container that can write its parent (the run directory) cannot redirect what the server, maybe
 * root, creates or removes there by swapping the path for a symlink. Also keeps socket paths short
 * (a Unix socket path has at most 107 bytes; a repository's run directory can be longer).
 */
class PinnedDir {
  private constructor(
    private readonly handle: FileHandle,
    /** The directory as the server opened it, e.g. /repo/.orchestra/runs/task-01-a1/model-forward. */
    readonly real: string,
  ) {}

  /**
   * Opens `dir`, creating it (mode 0755: the container's user must reach the sockets) when missing.
   *
   * @param options.private also require the directory to be the server's own, closed to others
   * @throws Error ENOTDIR/ELOOP when `dir` is a symlink or no directory; Error when `private` fails
   */
  static async open(dir: string, options: { create?: boolean; private?: boolean } = {}): Promise<PinnedDir> {
    if (options.create) await mkdir(dir, { mode: 0o755 }).catch(ignoreCode('EEXIST'));
    const handle = await open(dir, DIR_FLAGS);
    if (options.private) {
      const info = await handle.stat();
      if (info.uid !== process.getuid?.() || (info.mode & 0o077) !== 0) {
        await handle.close();
        throw new Error(`${dir} changed hands while it was being made`);
      }
    }
    return new PinnedDir(handle, dir);
  }

  /** `name` in this directory, as a path that does not depend on the directory's own path. */
  entry(name: string): string {
    return `/proc/self/fd/${this.handle.fd}/${name}`;
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }
}

function ignoreCode(code: string): (error: unknown) => void {
  return (error) => {
    if ((error as NodeJS.ErrnoException).code !== code) throw error;
  };
}

/**
 * A forwarder listening on a Unix socket in a directory a worker container has mounted (the
 * model-only network), connecting each connection to its TCP target. The socket is mode 0666:
 * the container's user may be another uid; the directory is the boundary, and all the socket
 * gives is what any local process already has, a connection to the endpoint.
 */
export class SocketForwarder {
  private constructor(
    private readonly server: net.Server,
    private readonly sockets: Set<net.Socket>,
    /** Holds the staging directory libuv removes the bound path from when the server closes. */
    private readonly staging: PinnedDir,
    private readonly dir: PinnedDir,
    /** File name of the socket in its directory, e.g. `3f2a9c1e-0.sock`. */
    readonly name: string,
    readonly target: ForwardTarget,
  ) {}

  /**
   * Listens on `<dir>/<name>` (replacing what is there) and forwards each connection to `target`.
   * The socket is bound, world-connectable from the start, in a private staging directory, then
   * renamed into place; no path a container can reach is ever chmod'ed or followed.
   *
   * @throws Error from the file system or the bind
   */
  static async start(dir: PinnedDir, name: string, target: ForwardTarget): Promise<SocketForwarder> {
    const stagingPath = await mkdtemp(dir.entry('.staging-'));
    const staging = await PinnedDir.open(stagingPath, { private: true }).catch(async (error: unknown) => {
      await rmdir(stagingPath).catch(() => undefined);
      throw error;
    });
    const sockets = new Set<net.Socket>();
    const server = net.createServer((client) => pipeConnection(client, target, sockets));
    try {
      const bound = staging.entry('socket');
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        // The socket is made 0666 by bind itself (umask 0111 for that synchronous call), never by a
        // chmod of its path: with a worker of the server's own uid the staging directory could be
        // swapped and the path made a symlink to one of the user's files between bind and chmod.
        const umask = process.umask(0o111);
        try {
          server.listen(bound, () => {
            server.off('error', reject);
            resolve();
          });
        } finally {
          process.umask(umask);
        }
      });
      await rename(bound, dir.entry(name));
    } catch (error) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await staging.close();
      throw error;
    } finally {
      await rmdir(stagingPath).catch(() => undefined);
    }
    return new SocketForwarder(server, sockets, staging, dir, name, target);
  }

  /** Stops listening, ends open connections and removes the socket. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.staging.close();
    await unlink(this.dir.entry(this.name)).catch(() => undefined);
  }
}

/** One socket of a worker: its file name in the forward directory and where it connects. */
export interface SocketForward {
  /** File name, e.g. `3f2a9c1e-0.sock`. */
  socket: string;
  target: ForwardTarget;
}

/**
 * The socket forwarders of one model-only worker, in a directory of its run directory. The worker
 * owns them: they close (and their sockets go) when it stops or detaches, and a restarted server
 * opens them again on reattach. The directory stays: another worker of the attempt may be using it.
 */
export class SocketForwarders {
  private constructor(
    private readonly dir: PinnedDir,
    private readonly forwarders: SocketForwarder[],
  ) {}

  /**
   * Listens on every forward of `forwards` in `dir` (absolute; created when missing).
   *
   * @param options.bestEffort skip a forward that cannot listen instead of failing (reattach: the
   *   agent then sees connection errors, as with the endpoint down)
   * @throws OrchestraError SPAWN_FAILED off Linux, when `dir` is a symlink, or when a socket
   *   cannot be made (without `bestEffort`)
   */
  static async open(
    dir: string,
    forwards: readonly SocketForward[],
    options: { bestEffort?: boolean } = {},
  ): Promise<SocketForwarders> {
    const fail = (what: string, error?: unknown) =>
      new OrchestraError('SPAWN_FAILED', `cannot forward the model endpoint into the worker: ${what}`, {
        hint: 'the "model-only" network needs the Docker engine on this Linux machine; else set worker.network to "bridge"',
        ...(error === undefined ? {} : { cause: error }),
      });
    // Sockets in a bind mount reach the container only when the engine shares this kernel, and
    // /proc/self/fd (PinnedDir) is Linux's.
    if (process.platform !== 'linux') throw fail(`unsupported on ${process.platform}`);
    let pinned: PinnedDir;
    try {
      pinned = await PinnedDir.open(dir, { create: true });
    } catch (error) {
      throw fail(`${dir}: ${errorMessage(error)}`, error);
    }
    const forwarders: SocketForwarder[] = [];
    for (const f of forwards) {
      try {
        forwarders.push(await SocketForwarder.start(pinned, f.socket, f.target));
      } catch (error) {
        if (options.bestEffort) continue;
        await Promise.all(forwarders.map((x) => x.close()));
        await pinned.close();
        throw fail(`${dir}/${f.socket}: ${errorMessage(error)}`, error);
      }
    }
    return new SocketForwarders(pinned, forwarders);
  }

  /** What is listening, one entry per socket. */
  get listening(): readonly SocketForwarder[] {
    return this.forwarders;
  }

  /** Closes every forwarder and removes their sockets. */
  async closeAll(): Promise<void> {
    const all = this.forwarders.splice(0);
    await Promise.all(all.map((f) => f.close()));
    await this.dir.close();
  }
}
