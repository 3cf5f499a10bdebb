import { isAbsolute } from 'node:path';
import { OrchestraError } from '../common/errors.js';

/**
 * The systemd user unit that keeps one session's server running (`orchestra service install`).
 * Pure: the caller finds the paths and writes the file.
 *
 * Values are written by the rules of systemd.syntax(7), systemd.service(5) and systemd.exec(5):
 * - `%` starts a specifier in every value, so it is doubled; so is `$` in ExecStart='s arguments
 *   (a variable there), but not in its first word, which systemd takes without variables;
 * - ExecStart= and Environment= split words and take "double-quoted" items with C escapes, so each
 *   word is quoted and `\` and `"` are escaped; the executable itself may hold neither, nor `'`
 *   (systemd refuses it: "Executable name contains special characters");
 * - WorkingDirectory=, EnvironmentFile= and Description= take the rest of the line as it is, which
 *   cannot hold a line break, surrounding spaces (trimmed) or a trailing `\` (a continuation).
 */

/** Seconds systemd waits before starting a crashed server again: long enough not to spin on a
 *  failure that repeats at once (systemd's default start limit is 5 starts in 10 s). */
export const RESTART_SEC = 5;

/** What the unit of one session's server is made of; every path absolute. */
export interface ServerUnitSpec {
  /** session name (letters, digits, `.`, `_`, `-`, as `sanitizeSessionName` makes it) */
  session: string;
  /** repository top level: the working directory and `--repo` */
  root: string;
  /** the node binary, e.g. `process.execPath` */
  node: string;
  /** orchestra's entry script (`orchestraEntry()`) */
  entry: string;
  /** PATH for the server and everything it starts (git, docker, agents, checks) */
  path: string;
  /** optional `KEY=value` file for secrets such as ANTHROPIC_API_KEY; need not exist */
  environmentFile: string;
  /** ORCHESTRA_TMPDIR to pass on, so clients started with it find the socket */
  socketBase?: string | undefined;
}

/** The unit's file name for `session`, e.g. `orchestra-demo.service`. */
export function serverUnitName(session: string): string {
  return `orchestra-${session}.service`;
}

/**
 * The text of the unit that runs `orchestra server -s <session> --repo <root>` in the foreground,
 * restarted on failure; `[Install]` wants it in the user's `default.target`. No secret is ever
 * written into it: they come from `spec.environmentFile`.
 *
 * @throws OrchestraError USAGE when a path is relative or cannot be written into a unit (a line
 *   break or other control character; surrounding spaces or a trailing `\` where systemd takes the
 *   value as it is; a `\`, `"` or `'` in the path of node)
 */
export function renderServerUnit(spec: ServerUnitSpec): string {
  const root = absolute(spec.root, 'the repository');
  const exec = [
    executable(absolute(spec.node, 'node')),
    ...[absolute(spec.entry, "orchestra's entry script"), 'server', '-s', spec.session, '--repo', root].map(
      (word) => quoted(word, { variables: true }),
    ),
  ];
  const environment = [`PATH=${spec.path}`];
  if (spec.socketBase) environment.push(`ORCHESTRA_TMPDIR=${spec.socketBase}`);
  return [
    '# Written by `orchestra service install`; run it again to update, `orchestra service uninstall` to remove.',
    '[Unit]',
    `Description=${rawValue(`orchestra session server ${spec.session} for ${root}`)}`,
    '',
    '[Service]',
    'Type=exec',
    `WorkingDirectory=${rawValue(root)}`,
    `ExecStart=${exec.join(' ')}`,
    // Only failures: `orchestra kill-server` and `systemctl stop` end it with status 0.
    'Restart=on-failure',
    `RestartSec=${RESTART_SEC}`,
    // SIGTERM to the server alone: it ends its panes itself (SIGHUP, so agents checkpoint), then
    // systemd kills whatever is left.
    'KillMode=mixed',
    ...environment.map((assignment) => `Environment=${quoted(assignment, { variables: false })}`),
    '# Secrets (ANTHROPIC_API_KEY=...) go in this file, one KEY=value a line; "-": it may be missing.',
    `EnvironmentFile=-${rawValue(absolute(spec.environmentFile, 'the environment file'))}`,
    '',
    '[Install]',
    'WantedBy=default.target',
    '',
  ].join('\n');
}

function absolute(path: string, what: string): string {
  if (!isAbsolute(path)) {
    throw new OrchestraError('USAGE', `${what} must be an absolute path for a systemd unit, not "${path}"`, {
      hint: 'run `orchestra service install` from an installed orchestra',
    });
  }
  return path;
}

/** Control characters cannot be written into a unit's line in any form orchestra uses. */
function refuseControl(value: string): void {
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    throw new OrchestraError(
      'USAGE',
      `${JSON.stringify(value)} holds a control character systemd units cannot hold`,
      {
        hint: 'move the repository (or node) to a path without line breaks or tabs',
      },
    );
  }
}

/** A value systemd takes as the rest of the line: only specifiers are expanded (`%%` is `%`). */
function rawValue(value: string): string {
  refuseControl(value);
  if (value !== value.trim() || value.endsWith('\\')) {
    throw new OrchestraError('USAGE', `"${value}" cannot be written into a systemd unit as it is`, {
      hint: 'move the repository to a path that does not start or end with a space or end with "\\"',
    });
  }
  return value.replaceAll('%', '%%');
}

/** ExecStart='s first word, the program: quoted, with no variables and no escapes to write. */
function executable(path: string): string {
  refuseControl(path);
  if (/[\\"']/.test(path)) {
    throw new OrchestraError('USAGE', `systemd cannot run a program whose path holds \\, " or ': ${path}`, {
      hint: 'install node (or orchestra) in a directory whose path has none of them',
    });
  }
  return `"${path.replaceAll('%', '%%')}"`;
}

/** One double-quoted word of ExecStart= or Environment=; `variables`: `$` expands (ExecStart=). */
function quoted(value: string, options: { variables: boolean }): string {
  refuseControl(value);
  let text = value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('%', '%%');
  if (options.variables) text = text.replaceAll('$', '$$$$');
  return `"${text}"`;
}
