import type { Command } from 'commander';
import { printable } from '../../common/printable.js';
import { loadConfig } from '../../config/load.js';
import { FINISHED_ATTEMPT_STATES } from '../../store/schema.js';
import { StateStore } from '../../store/store.js';
import { LOCAL_HOST, reportHost, workerHosts } from '../../workers/hosts.js';
import { workerImageVersion } from '../../workers/image.js';
import type { CommandEnv } from '../command-env.js';
import { repoContext } from '../context.js';
import { formatTable, printJson, QuietExit } from '../output.js';

/**
 * Registers `orchestra hosts`: each worker host of the config (`worker.hosts`), reachable or not
 * with the reason, its engine version, whether the worker image is there and current, its
 * capacity and the attempts running on it. Exits 1 when a host cannot be reached.
 */
export function registerHostsCommand(program: Command, env: CommandEnv): void {
  program
    .command('hosts')
    .description(
      'the Docker engines workers run on (worker.hosts): reachable, engine, image, capacity, running',
    )
    .option('--json', 'print the hosts as JSON')
    .action(async (opts: { json?: boolean }) => {
      const { root, paths } = await repoContext(env.cwd);
      const { config } = await loadConfig(root, { env: env.env });
      const store = await StateStore.open(paths.state, {
        onCorrupt: ({ movedTo, reason }) =>
          env.output.err(printable(`warning: state file unusable (${reason}); kept as ${movedTo}`)),
      });
      const attempts = Object.values((await store.reload()).attempts);
      await store.close();
      const running = (name: string) =>
        attempts.filter(
          (a) =>
            a.sandbox === 'docker' &&
            !FINISHED_ATTEMPT_STATES.includes(a.state) &&
            (a.host ?? LOCAL_HOST) === name,
        ).length;
      // The checkout's image version, read and hashed once for all hosts.
      const expected = await workerImageVersion().catch(() => undefined);
      const reports = await Promise.all(
        workerHosts(config).map((host) =>
          reportHost(host, {
            image: config.worker.image,
            ...(expected ? { expected } : {}),
            running: running(host.name),
            env: env.env,
          }),
        ),
      );
      if (opts.json) printJson(env.output, reports);
      else {
        const rows = reports.map((r) => [
          r.name,
          r.docker,
          r.reachable ? 'reachable' : 'unreachable',
          r.version ?? '-',
          r.image ? (r.image.present ? (r.image.current === false ? 'stale' : 'current') : 'missing') : '-',
          `${r.running}/${r.capacity}`,
          r.reason ?? '',
        ]);
        for (const line of formatTable([
          ['HOST', 'DOCKER', 'STATE', 'ENGINE', 'IMAGE', 'RUNNING', 'NOTE'],
          ...rows,
        ])) {
          env.output.out(line);
        }
      }
      if (reports.some((r) => !r.reachable)) throw new QuietExit(1);
    });
}
