import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A pass-through HTTP proxy in front of the scripted model server, for the one model fault the
 * scripted server cannot script: a malformed answer (a 200 whose body is not what the Messages
 * API sends). It answers the planned request of an attempt itself, without forwarding it, so no
 * scripted turn is used up; everything else goes through untouched, streams included.
 *
 * Attempts are told apart by their worktree path in the system prompt, as the scripted server
 * routes them.
 */

export interface ProxyRecord {
  at: number;
  attempt: string | undefined;
  /** The attempt's n-th request through the proxy (1-based); 0 for other requests. */
  n: number;
  /** What the proxy did: forwarded, or which malformed answer it gave. */
  action: 'forward' | 'malformed';
  /** HTTP status of the answer (upstream's, or the proxy's own). */
  status?: number;
}

export interface MalformedPlan {
  faultId: number;
  attempt: string;
  request: number;
}

export interface ModelProxy {
  url: string;
  records: ProxyRecord[];
  /** Fault ids of malformed answers given. */
  injected: Set<number>;
  close(): Promise<void>;
}

/** Three kinds of broken 200s, taken in turn. */
const MALFORMED: Array<{ type: string; body: string }> = [
  {
    type: 'text/event-stream',
    body: 'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_x",\n\nevent: ping\ndata: {oops\n\n',
  },
  { type: 'application/json', body: '{"type":"message","role":"assistant","content":[{"type":"te' },
  { type: 'text/html', body: '<html><body><h1>502 Bad Gateway</h1></body></html>' },
];

function systemText(body: unknown): string {
  const system = (body as { system?: unknown } | undefined)?.system;
  if (typeof system === 'string') return system;
  if (Array.isArray(system)) return system.map((b) => (b as { text?: string })?.text ?? '').join('\n');
  return '';
}

export async function startModelProxy(upstream: string, malformed: MalformedPlan[]): Promise<ModelProxy> {
  const target = new URL(upstream);
  const records: ProxyRecord[] = [];
  const injected = new Set<number>();
  const counts = new Map<string, number>();
  let malformedGiven = 0;

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        body = undefined;
      }
      const attempt = /worktrees\/(task-\d+-a\d+)\b/.exec(systemText(body))?.[1];
      const isMessages =
        req.method === 'POST' &&
        (req.url ?? '').startsWith('/v1/messages') &&
        !req.url?.includes('count_tokens');
      const n = attempt && isMessages ? (counts.get(attempt) ?? 0) + 1 : 0;
      if (attempt && isMessages) counts.set(attempt, n);
      const planned = malformed.find(
        (m) => m.attempt === attempt && m.request === n && !injected.has(m.faultId),
      );
      const record: ProxyRecord = { at: Date.now(), attempt, n, action: planned ? 'malformed' : 'forward' };
      records.push(record);
      if (planned) {
        injected.add(planned.faultId);
        const bad = MALFORMED[malformedGiven++ % MALFORMED.length]!;
        record.status = 200;
        res.writeHead(200, { 'content-type': bad.type, 'request-id': 'req_chaos_malformed' });
        res.end(bad.body);
        return;
      }
      const headers = { ...req.headers, host: target.host, 'content-length': String(raw.length) };
      const up = httpRequest(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers },
        (upRes) => {
          record.status = upRes.statusCode;
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
          upRes.on('error', () => res.destroy());
        },
      );
      up.on('error', () => {
        // Upstream dropped the connection (a `hangMs` turn does): drop ours the same way.
        res.destroy();
      });
      res.on('close', () => {
        if (!res.writableFinished) up.destroy();
      });
      up.end(raw);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    records,
    injected,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
