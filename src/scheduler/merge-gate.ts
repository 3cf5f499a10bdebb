import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { OrchestraPaths } from '../common/paths.js';
import type { OrchestraConfig } from '../config/schema.js';
import { hostObjectsDir, seedAttemptRepo } from '../git/attempt-repo.js';
import type { GateResult, MergeGate } from '../git/merge.js';
import { DEFAULT_SETUP_TIMEOUT_MS } from '../git/run-setup.js';
import { workerUser } from '../workers/container-spec.js';
import { hostIds } from '../workers/docker-worker.js';
import { chooseSandbox } from '../workers/sandbox.js';
import { handOver, runCommands, type ShellPlace, withShell } from '../workers/shells.js';
import { CHECK_TIMEOUT_MS } from './check-gate.js';

/**
 * The merge gate (DESIGN.md, "Security": every command the task's code can influence runs in a
 * worker without secrets): the merge commit, made by the host, goes into a repository of its own
 * under `.orchestra/worktrees/merge-<random>` without being checked out on the host; the worker
 * checks it out, runs the setup commands and then the checks (all with the check gate's network),
 * and only exit codes and output come back. Docker when the config's sandbox gives Docker,
 * else the host with the secrets removed from the environment.
 */

/** Folder-name prefix of merge-gate repositories under `.orchestra/worktrees/` (never an attempt id). */
export const MERGE_DIR_PREFIX = 'merge-';

/** The worker's first step: check out the commit it was given (HEAD), hooks off. */
const CHECKOUT_COMMAND = 'git -c core.hooksPath=/dev/null -c core.fsmonitor=false reset --quiet --hard';

/**
 * A {@link MergeGate} for the repository at `root` with `config`'s setup and check commands.
 *
 * @param options.env the server's (or CLI's) environment: Docker's address; secrets never reach the gate
 * @param options.session names the gate's container (`orchestra-<session>-<repo>-merge-…-merge`)
 */
export function mergeGate(options: {
  root: string;
  paths: OrchestraPaths;
  config: OrchestraConfig;
  env: NodeJS.ProcessEnv;
  session: string;
  onOutput?: (chunk: string) => void;
}): MergeGate {
  const { config } = options;
  return async (commit: string): Promise<GateResult> => {
    const checks = config.check;
    const setup = config.setup;
    if (checks.length === 0 && setup.length === 0) return { ok: true, output: '' };
    const sandbox = await chooseSandbox(config.sandbox, undefined, {
      image: config.worker.image,
      env: options.env,
    });
    const id = `${MERGE_DIR_PREFIX}${randomBytes(5).toString('hex')}`;
    const dir = join(options.paths.worktrees, id);
    const runDir = join(options.paths.runs, id);
    await mkdir(runDir, { recursive: true });
    const user = workerUser(config.worker.user, hostIds());
    const place: ShellPlace = {
      sandbox: sandbox.kind,
      session: options.session,
      repo: options.root,
      taskId: 'merge',
      attemptId: id,
      worktree: dir,
      runDir,
      objectsDir: await hostObjectsDir(options.root),
      config: config.worker,
      user,
      env: options.env,
    };
    try {
      await seedAttemptRepo({
        root: options.root,
        dir,
        branch: 'orchestra/merge',
        base: commit,
        checkout: false,
      });
      if (sandbox.kind === 'docker') await handOver([dir, runDir], user);
      // One worker for checkout, setup and checks, on the check gate's network: the setup runs the
      // result's code (install scripts) as much as the checks do.
      return await withShell(place, 'merge', async (shell) => {
        const onOutput = options.onOutput;
        const prepared = await runCommands(shell, [CHECKOUT_COMMAND, ...setup], {
          timeoutMs: DEFAULT_SETUP_TIMEOUT_MS,
          ...(onOutput ? { onOutput } : {}),
        });
        if (!prepared.ok) {
          return {
            ok: false,
            detail: `setup command ${prepared.detail ?? 'failed'}`,
            output: prepared.output,
          };
        }
        const checked = await runCommands(shell, checks, {
          timeoutMs: CHECK_TIMEOUT_MS,
          ...(onOutput ? { onOutput } : {}),
        });
        const output = prepared.output + checked.output;
        return checked.ok
          ? { ok: true, output }
          : { ok: false, detail: `check ${checked.detail ?? 'failed'}`, output };
      });
    } finally {
      await rm(dir, { recursive: true, force: true }).catch(() => {});
      await rm(runDir, { recursive: true, force: true }).catch(() => {});
    }
  };
}
