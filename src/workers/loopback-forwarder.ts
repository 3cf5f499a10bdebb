import net from 'node:net';
import os from 'node:os';
import type Docker from 'dockerode';
import { errorMessage, OrchestraError } from '../common/errors.js';

/**
 * Containers cannot reach the host's loopback, yet a model endpoint such as the scripted Messages
 * API server listens on 127.0.0.1. A forwarder listens on the Docker bridge's gateway address (the
 * host's side of docker0, reachable from bridge containers only) and pipes each connection to the
 * loopback target; the worker's URL is rewritten to point at it.
 */

/** A host and port on the host's loopback. */
export interface LoopbackTarget {
  host: string;
  port: number;
}

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
      const upstream = net.connect(options.target.port, options.target.host);
      sockets.add(client);
      sockets.add(upstream);
      const close = () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      // A reset on either side ends both; the HTTP client in the container sees a closed connection.
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
      client.pipe(upstream);
      upstream.pipe(client);
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

/** Parses `value` as an http(s)/ws(s) URL on a loopback host; undefined for anything else. */
export function parseLoopbackUrl(value: string): LoopbackUrl | undefined {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#@]*@)?(\[[^\]]*\]|[^/?#:]*)(?::(\d+))?(.*)$/i.exec(
    value.trim(),
  );
  if (!match) return undefined;
  const [, scheme = '', userinfo = '', host = '', portText, rest = ''] = match;
  const defaultPort = DEFAULT_PORTS[scheme.slice(0, -2).toLowerCase()];
  if (defaultPort === undefined || !isLoopbackHost(host)) return undefined;
  if (rest !== '' && !/^[/?#]/.test(rest)) return undefined;
  const bare = host.replace(/^\[|\]$/g, '');
  return {
    prefix: scheme + userinfo,
    rest,
    target: {
      host: bare.toLowerCase() === 'localhost' ? '127.0.0.1' : bare,
      port: portText ? Number(portText) : defaultPort,
    },
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
