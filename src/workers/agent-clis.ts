import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { errorMessage, OrchestraError } from '../common/errors.js';

/**
 * Agent CLIs for the worker image, installed on the host from the npm registry and copied into the
 * build context (`agent-clis/`), because the network inside `docker build` cannot be trusted (a
 * proxy may re-sign TLS) and the host's npm already has the user's registry, proxy and CA set up.
 * Dockerfile.worker copies the folder to /opt/agent-clis, runs the packages' install scripts there
 * (offline: Claude Code's picks its native binary for the image's platform), and links their
 * commands into /usr/local/bin.
 */

const run = promisify(execFile);

/** The CLIs `orchestra image build` can add, by flag name, with their npm package. */
export const AGENT_CLI_PACKAGES = {
  claude: '@anthropic-ai/claude-code',
  codex: '@openai/codex',
} as const;

/** One CLI asked for: `claude` or `codex`, and an npm version or tag (default `latest`). */
export interface AgentCliRequest {
  cli: keyof typeof AGENT_CLI_PACKAGES;
  version?: string;
}

/** The folder of the build context the CLIs are installed into (Dockerfile.worker copies it). */
export const AGENT_CLIS_DIR = 'agent-clis';

/** The file in agent-clis/ naming the commands to link into /usr/local/bin, one a line. */
export const AGENT_CLI_BINS_FILE = 'bins';

/** Whether the version `text` (`10.9.2`) is at least `[major, minor]`. */
function atLeast(text: string, [major, minor]: [number, number]): boolean {
  const [a = 0, b = 0] = text.split('.').map((n) => Number.parseInt(n, 10));
  return a > major || (a === major && b >= minor);
}

/** Image label listing the CLIs installed, `name@version` separated by spaces (empty for none). */
export const AGENT_CLIS_LABEL = 'orchestra.agent-clis';

/** npm's `--cpu` for a Docker engine's `Arch` (Go's GOARCH names, from `GET /version`). */
export function npmCpu(engineArch: string): string {
  const map: Record<string, string> = {
    amd64: 'x64',
    arm64: 'arm64',
    arm: 'arm',
    '386': 'ia32',
    ppc64le: 'ppc64',
    s390x: 's390x',
  };
  return map[engineArch] ?? engineArch;
}

/** A version or dist-tag npm accepts after `@`: letters, digits and `.-_+^~<>=*` only. */
const VERSION = /^[A-Za-z0-9.\-_+^~<>=*]+$/;

/**
 * Installs `requests` into `<context>/agent-clis` with the host's npm, for Linux on `cpu`
 * ({@link npmCpu}) with glibc (the image is Debian), install scripts not run (they run in the
 * image, for its platform). Writes the folder even for no requests (the Dockerfile copies it).
 *
 * @returns `name@version` of each package installed, as npm resolved it
 * @throws OrchestraError IMAGE_BUILD_FAILED when a version is malformed, npm is missing, or the
 *   install fails (with npm's last lines)
 */
export async function stageAgentClis(
  context: string,
  requests: readonly AgentCliRequest[],
  cpu: string,
  onProgress?: (line: string) => void,
): Promise<string[]> {
  const dir = path.join(context, AGENT_CLIS_DIR);
  await mkdir(dir, { recursive: true });
  if (requests.length === 0) {
    await writeFile(path.join(dir, AGENT_CLI_BINS_FILE), '');
    return [];
  }
  const specs = requests.map(({ cli, version }) => {
    if (version !== undefined && !VERSION.test(version)) {
      throw new OrchestraError(
        'IMAGE_BUILD_FAILED',
        `not an npm version or tag for --${cli}: ${JSON.stringify(version)}`,
        {
          hint: `give a version such as --${cli} 2.1.0, or no value for the latest`,
        },
      );
    }
    return `${AGENT_CLI_PACKAGES[cli]}@${version ?? 'latest'}`;
  });
  // --os, --cpu and --libc pick the optional packages of the image's platform (npm 10.3 and
  // later); an older npm ignores them and would stage this machine's platform instead.
  const npmVersion = await run('npm', ['--version']).then(
    ({ stdout }) => stdout.trim(),
    () => undefined,
  );
  if (npmVersion !== undefined && !atLeast(npmVersion, [10, 3])) {
    throw new OrchestraError(
      'IMAGE_BUILD_FAILED',
      `npm ${npmVersion} on this machine cannot install packages for another platform (it needs 10.3 or later)`,
      { hint: 'update npm (`npm install -g npm@latest`) and build again' },
    );
  }
  // A package.json of its own, so npm installs here and not into a project above the folder.
  await writeFile(
    path.join(dir, 'package.json'),
    `${JSON.stringify({ name: 'orchestra-agent-clis', private: true })}\n`,
  );
  onProgress?.(`installing ${specs.join(' ')} on this machine with npm (linux ${cpu}), for the image`);
  const args = [
    'install',
    '--no-audit',
    '--no-fund',
    '--no-update-notifier',
    '--ignore-scripts',
    '--omit=dev',
    '--os=linux',
    `--cpu=${cpu}`,
    '--libc=glibc',
    ...specs,
  ];
  try {
    await run('npm', args, { cwd: dir, maxBuffer: 16 * 1024 * 1024, timeout: 10 * 60_000 });
  } catch (error) {
    const e = error as { code?: string; stderr?: string };
    const tail = (e.stderr ?? '').trim().split('\n').slice(-15).join('\n');
    throw new OrchestraError(
      'IMAGE_BUILD_FAILED',
      e.code === 'ENOENT'
        ? 'npm is not on PATH: the agent CLIs are installed with the npm of this machine'
        : `npm could not install ${specs.join(' ')}: ${tail || errorMessage(error)}`,
      {
        hint: 'check that this machine reaches the npm registry (`npm view @anthropic-ai/claude-code version`), or pin a version that exists',
        cause: error,
      },
    );
  }
  const installed: string[] = [];
  const bins: string[] = [];
  for (const { cli } of requests) {
    const name = AGENT_CLI_PACKAGES[cli];
    const manifest = JSON.parse(
      await readFile(path.join(dir, 'node_modules', name, 'package.json'), 'utf8'),
    ) as { version?: string; bin?: string | Record<string, string> };
    // Only the asked-for packages' own commands go on PATH, not their dependencies'.
    const commands =
      typeof manifest.bin === 'string' ? [name.replace(/^@[^/]+\//, '')] : Object.keys(manifest.bin ?? {});
    if (commands.length === 0) {
      throw new OrchestraError('IMAGE_BUILD_FAILED', `${name}@${manifest.version} has no command to run`, {
        hint: `pin a version of ${name} that has one, e.g. the latest`,
      });
    }
    bins.push(...commands.filter((c) => /^[A-Za-z0-9._-]+$/.test(c)));
    installed.push(`${name}@${manifest.version ?? 'unknown'}`);
  }
  await writeFile(path.join(dir, AGENT_CLI_BINS_FILE), bins.map((b) => `${b}\n`).join(''));
  return installed;
}
