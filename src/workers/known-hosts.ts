import { createHmac } from 'node:crypto';

/**
 * Checking an SSH server's host key against OpenSSH's `known_hosts` (sshd(8), "SSH_KNOWN_HOSTS
 * FILE FORMAT"), as the `ssh` the Docker CLI runs would: ssh2, which dockerode talks SSH with,
 * accepts any key unless told otherwise. Lines are `[markers] hostnames keytype base64-key`;
 * hostnames are comma-separated patterns (`host`, `[host]:port` for a port other than 22, `*`/`?`
 * wildcards, `!` negation) or one hashed name `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`.
 * `@revoked` keys are refused; `@cert-authority` lines are skipped (host certificates are not
 * checked here). Pure: the caller reads the file.
 */

/** How a host name appears in known_hosts: `[host]:port` unless the port is 22. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    'i',
  );
  return re.test(name);
}

function hostsMatch(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return false;
    const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return mac === hash;
  }
  let matched = false;
  for (const pattern of field.split(',')) {
    if (pattern.startsWith('!')) {
      if (globMatch(pattern.slice(1), name)) return false;
    } else if (globMatch(pattern, name)) matched = true;
  }
  return matched;
}

/** The verdict on a host key: known (it matches a line), revoked, or unknown (no line for it). */
export type HostKeyVerdict = 'known' | 'revoked' | 'unknown' | 'changed';

/**
 * Looks `key` (the server's raw public key blob, as ssh2 hands it to `hostVerifier`) up for `host`
 * and `port` in the text of a known_hosts file. `changed`: the host has lines, none with this key.
 */
export function checkHostKey(knownHosts: string, host: string, port: number, key: Buffer): HostKeyVerdict {
  const name = knownHostsName(host, port);
  const blob = key.toString('base64');
  let hostSeen = false;
  let verdict: HostKeyVerdict = 'unknown';
  for (const raw of knownHosts.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    const marker = fields[0]?.startsWith('@') ? fields.shift() : undefined;
    const [hosts, , keyText] = fields;
    if (!hosts || !keyText || marker === '@cert-authority') continue;
    if (!hostsMatch(hosts, name)) continue;
    if (marker === '@revoked') {
      if (keyText === blob) return 'revoked';
      continue;
    }
    hostSeen = true;
    if (keyText === blob) verdict = 'known';
  }
  if (verdict === 'known') return 'known';
  return hostSeen ? 'changed' : 'unknown';
}
