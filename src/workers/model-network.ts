import { CONTAINER_RUN_DIR } from './container-spec.js';
import { type ForwardTarget, isLoopbackHost, type SocketForward, splitUrl } from './loopback-forwarder.js';

/**
 * The `model-only` worker network (DESIGN.md, "Security"), as data: the agent's container gets
 * Docker's `none` network — loopback only, no route, no name server it can reach — and each model
 * endpoint its environment names is served on the container's loopback by a relay (a small node
 * script started before the agent) that carries every connection through a Unix socket in the run
 * directory to a `SocketForwarder` on the host, which connects to the real endpoint. A URL
 * keeps its host name and port, so TLS stays end to end: a name is mapped in the container's
 * /etc/hosts to a loopback address of its own, where the relay listens on the URL's port (Docker
 * 20.10 and later set `net.ipv4.ip_unprivileged_port_start=0` in containers, so 443 needs no
 * privilege).
 *
 * Why not a Docker network created with `Internal: true`: on Docker 20.10 its containers still
 * get a default route through the network's gateway, the host, so every address of the host
 * (docker0's 172.17.0.1, the LAN's, anything listening on 0.0.0.0) stays reachable from the
 * agent, and outside addresses time out rather than fail. Only the host's firewall could close
 * that, and orchestra does not touch it.
 *
 * Pure: the host side lives in loopback-forwarder.ts, the wiring in docker-worker.ts.
 */

/** The environment variables that name model endpoints, in the order they are served. */
export const MODEL_ENDPOINT_VARS = ['ANTHROPIC_BASE_URL', 'OPENAI_BASE_URL'] as const;
/** Where the Anthropic SDK and Claude Code go when ANTHROPIC_BASE_URL is unset. */
export const DEFAULT_ANTHROPIC_BASE_URL = 'https://api.anthropic.com';
/** The folder of the run directory holding a model-only worker's sockets. */
export const MODEL_FORWARD_DIR = 'model-forward';
/**
 * First three octets of the loopback addresses given to endpoint host names (127.77.0.1, .2, ...):
 * any of 127/8 works in a container; this block keeps clear of 127.0.0.1 and Debian's 127.0.1.1.
 */
const ALIAS_PREFIX = '127.77.0.';
/** Created by the relay once it listens; the wrapper starts the agent then (tmpfs, per container). */
export const RELAY_READY_FILE = '/tmp/orchestra-model-relay.ready';
/** The relay's own messages (its stdio must not touch the agent's terminal). */
export const RELAY_LOG_FILE = '/tmp/orchestra-model-relay.log';
/** How long the wrapper waits for the relay, in 10 ms steps: 5 s, a cold node start on a busy host. */
const RELAY_WAIT_STEPS = 500;

/** One endpoint of the plan: a socket on the host and where the relay listens for it. */
export interface ModelForward extends SocketForward {
  /** The variables served through it; a variable left unset whose default applies is listed too. */
  names: string[];
  /** Addresses the relay listens on inside the container. */
  listen: ForwardTarget[];
}

/** How a model-only worker reaches its model endpoints. */
export interface ModelOnlyPlan {
  /**
   * The agent's environment. Only URLs on a host the container cannot have change: `localhost` and
   * `::1` to 127.0.0.1, another IP address to its loopback alias.
   */
  env: Record<string, string>;
  /** One per distinct target; `socket` names are `<id>-0.sock`, `<id>-1.sock`, ... */
  forwards: ModelForward[];
  /** `name:address` lines for the container's /etc/hosts (Docker's ExtraHosts). */
  extraHosts: string[];
}

/**
 * The model endpoints `env` names: each of {@link MODEL_ENDPOINT_VARS} that is set (not empty),
 * and {@link DEFAULT_ANTHROPIC_BASE_URL} for an unset ANTHROPIC_BASE_URL.
 *
 * @returns `[name, url]` pairs
 */
export function modelEndpoints(env: Readonly<Record<string, string | undefined>>): [string, string][] {
  const out: [string, string][] = [];
  for (const name of MODEL_ENDPOINT_VARS) {
    const value = env[name]?.trim();
    if (value) out.push([name, value]);
    else if (name === 'ANTHROPIC_BASE_URL') out.push([name, DEFAULT_ANTHROPIC_BASE_URL]);
  }
  return out;
}

const IPV4 = /^\d+\.\d+\.\d+\.\d+$/;

/**
 * Plans the model-only network for an agent environment (see the module comment): which sockets
 * the host listens on and where they lead, where the relay listens, the /etc/hosts lines and the
 * environment the agent gets. A URL on a loopback host keeps its address (`localhost` and `::1`
 * become 127.0.0.1: the container's loopback has no IPv6); one on a host name keeps it and the name
 * gets a loopback alias; one on another IP address is rewritten to the address's alias. A value
 * that is no http(s) URL is left alone and reaches nothing.
 *
 * @param id letters and digits unique to the worker, prefixed to its socket names: two workers of
 *   one attempt (an agent restarted while the old container is still going) share the run
 *   directory and must not replace or remove each other's sockets
 */
export function planModelOnly(env: Readonly<Record<string, string>>, id: string): ModelOnlyPlan {
  const out: Record<string, string> = { ...env };
  const forwards: ModelForward[] = [];
  const aliases = new Map<string, string>();
  const extraHosts: string[] = [];
  const aliasOf = (host: string): string => {
    let alias = aliases.get(host);
    if (!alias) {
      alias = `${ALIAS_PREFIX}${aliases.size + 1}`;
      aliases.set(host, alias);
    }
    return alias;
  };
  for (const [name, value] of modelEndpoints(env)) {
    const url = splitUrl(value);
    if (!url) continue;
    const bare = url.host.replace(/^\[|\]$/g, '').toLowerCase();
    let target: ForwardTarget;
    let listenHost: string;
    /** The URL's host must change: it names an address the container's loopback does not have. */
    let rewrite: boolean;
    if (isLoopbackHost(bare)) {
      target = { host: IPV4.test(bare) || bare === '::1' ? bare : '127.0.0.1', port: url.port };
      listenHost = IPV4.test(bare) ? bare : '127.0.0.1';
      rewrite = listenHost !== bare;
    } else {
      target = { host: bare, port: url.port };
      listenHost = aliasOf(bare);
      rewrite = IPV4.test(bare) || bare.includes(':');
      const line = `${bare}:${listenHost}`;
      if (!rewrite && !extraHosts.includes(line)) extraHosts.push(line);
    }
    if (rewrite && env[name] !== undefined) {
      out[name] = `${url.prefix}${listenHost}${url.explicitPort ? `:${url.port}` : ''}${url.rest}`;
    }
    const existing = forwards.find((f) => f.target.host === target.host && f.target.port === target.port);
    if (existing) {
      if (!existing.names.includes(name)) existing.names.push(name);
      continue;
    }
    forwards.push({
      names: [name],
      target,
      socket: `${id}-${forwards.length}.sock`,
      listen: [{ host: listenHost, port: url.port }],
    });
  }
  return { env: out, forwards, extraHosts };
}

/**
 * The relay, run by the container's node with `node -e RELAY_SCRIPT <forwards JSON> <ready file>`:
 * listens on each `[host, port]` and pipes every connection to its socket. Kept to what the
 * worker image's node (Debian's, 18) has. Node resets inherited signal dispositions, so it ignores
 * the terminal's SIGINT, SIGQUIT, SIGHUP and SIGTSTP itself: they are meant for the agent, whose
 * process group it shares.
 */
export const RELAY_SCRIPT = `const net = require('net');
const fs = require('fs');
for (const s of ['SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGTSTP']) process.on(s, () => {});
const forwards = JSON.parse(process.argv[1]);
let left = 0;
const listened = () => { left -= 1; if (left === 0) fs.writeFileSync(process.argv[2], ''); };
for (const f of forwards) {
  for (const [host, port] of f.listen) {
    left += 1;
    const server = net.createServer((client) => {
      const upstream = net.connect(f.socket);
      const close = () => { client.destroy(); upstream.destroy(); };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    server.on('error', (e) => { console.error('cannot listen on ' + host + ':' + port + ': ' + e.message); listened(); });
    server.listen({ host, port }, listened);
  }
}`;

/**
 * Starts the relay in the background (stdio away from the terminal), waits for it up to 5 s, warns
 * on the terminal if it did not come up, then execs the agent's command. `$0` is a label for `ps`.
 */
const RELAY_WRAPPER = `node -e "$1" "$2" "$3" </dev/null >${RELAY_LOG_FILE} 2>&1 &
n=0; while [ ! -e "$3" ] && [ $n -lt ${RELAY_WAIT_STEPS} ]; do sleep 0.01; n=$((n+1)); done
[ -e "$3" ] || echo "orchestra: the model relay did not start, the model endpoint is unreachable (see ${RELAY_LOG_FILE})" >&2
shift 3; exec "$@"`;

/**
 * The container's command for a model-only worker: `command` behind the relay wrapper. Socket
 * paths are the container's, under {@link CONTAINER_RUN_DIR}. No secrets are in it (they stay in
 * the environment).
 */
export function relayCommand(forwards: readonly ModelForward[], command: readonly string[]): string[] {
  const spec = forwards.map((f) => ({
    socket: `${CONTAINER_RUN_DIR}/${MODEL_FORWARD_DIR}/${f.socket}`,
    listen: f.listen.map((l) => [l.host, l.port]),
  }));
  return [
    '/bin/sh',
    '-c',
    RELAY_WRAPPER,
    'orchestra-model-relay',
    RELAY_SCRIPT,
    JSON.stringify(spec),
    RELAY_READY_FILE,
    ...command,
  ];
}

/** What the forwards label keeps of a model-only worker's forwards, for reattach. */
export type ModelForwardRecord = Pick<ModelForward, 'names' | 'target' | 'socket'>;

/** The `orchestra.forwards` label's value for a model-only worker (JSON list of records). */
export function modelForwardsLabel(forwards: readonly ModelForward[]): string {
  return JSON.stringify(forwards.map(({ names, target, socket }) => ({ names, target, socket })));
}

/**
 * The model-only records in an `orchestra.forwards` label; entries of another shape (a bridge
 * worker's `{ name, target, port }`), a socket name other than `<id>-<n>.sock` and bad JSON are
 * dropped.
 */
export function parseModelForwards(label: string | undefined): ModelForwardRecord[] {
  if (!label) return [];
  let list: unknown;
  try {
    list = JSON.parse(label);
  } catch {
    return [];
  }
  if (!Array.isArray(list)) return [];
  return list.filter(
    (f): f is ModelForwardRecord =>
      typeof f?.socket === 'string' &&
      /^[A-Za-z0-9]+-\d+\.sock$/.test(f.socket) &&
      Array.isArray(f.names) &&
      typeof f.target?.host === 'string' &&
      Number.isInteger(f.target.port),
  );
}
