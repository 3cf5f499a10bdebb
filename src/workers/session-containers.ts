import type Docker from 'dockerode';
import { LABEL_ATTEMPT, LABEL_REPO, LABEL_SESSION, LABEL_TASK } from './container-labels.js';
import { dockerClient } from './docker-engine.js';

/** A worker container of a session as the engine reports it now. */
export interface WorkerContainer {
  /** Container id (64 hex digits). */
  id: string;
  name: string;
  taskId: string | undefined;
  attemptId: string | undefined;
  /** Docker's state: `running`, `exited`, `created`, `paused`, `restarting`, `removing` or `dead`. */
  state: string;
  /** Exit code once it has exited (137 after SIGKILL, which includes the OOM killer). */
  exitCode?: number;
  /** Whether the kernel's OOM killer struck inside it. */
  oomKilled: boolean;
  /** When it finished (ISO 8601), for exited containers. */
  finishedAt?: string;
}

function sessionFilter(session: string): string {
  return JSON.stringify({ label: [`${LABEL_SESSION}=${session}`] });
}

/** Which containers a lookup is about: a session of one repository. */
export interface WorkerScope {
  /** The session's name. */
  session: string;
  /**
   * The repository's top level (absolute), as in the `orchestra.repo` label. Session names are
   * only unique per socket directory, so two repositories on one engine can both have a `main`
   * whose attempts are both called `task-01-a1`: without this, one server re-attaches to the
   * other's agent.
   */
  repo: string;
}

/**
 * Lists the worker containers of one session of one repository, running or not, so a restarted
 * server can re-attach to the running ones and record how the others ended.
 *
 * @param scope a session name alone (tests) or a
 *   {@link WorkerScope}; containers without the repository label never match a scope with one
 * @throws Error from dockerode when the engine cannot be asked
 */
export async function findWorkers(
  scope: string | WorkerScope,
  docker: Docker = dockerClient(),
): Promise<WorkerContainer[]> {
  const labels =
    typeof scope === 'string'
      ? [`${LABEL_SESSION}=${scope}`]
      : [`${LABEL_SESSION}=${scope.session}`, `${LABEL_REPO}=${scope.repo}`];
  // Docker ANDs the label filters.
  const list = await docker.listContainers({ all: true, filters: JSON.stringify({ label: labels }) });
  const workers: WorkerContainer[] = [];
  for (const entry of list) {
    let info: Docker.ContainerInspectInfo;
    try {
      info = await docker.getContainer(entry.Id).inspect();
    } catch {
      // Removed between list and inspect (a concurrent gc): it is no longer a worker.
      continue;
    }
    const labels = info.Config.Labels ?? {};
    const worker: WorkerContainer = {
      id: info.Id,
      name: info.Name.replace(/^\//, ''),
      taskId: labels[LABEL_TASK],
      attemptId: labels[LABEL_ATTEMPT],
      state: info.State.Status,
      oomKilled: info.State.OOMKilled,
    };
    if (!info.State.Running && info.State.Status !== 'created') {
      worker.exitCode = info.State.ExitCode;
      worker.finishedAt = info.State.FinishedAt;
    }
    workers.push(worker);
  }
  return workers;
}

/**
 * Removes every worker container labelled with `session`, running ones included, whatever its
 * repository: for tests cleaning up their own uniquely named sessions. orchestra itself removes
 * containers by repository ({@link removeStrayContainers}).
 *
 * @returns the ids removed
 * @throws Error from dockerode when the engine cannot be asked
 */
export async function removeSessionContainers(
  session: string,
  docker: Docker = dockerClient(),
): Promise<string[]> {
  const list = await docker.listContainers({ all: true, filters: sessionFilter(session) });
  const removed: string[] = [];
  for (const entry of list) {
    try {
      await docker.getContainer(entry.Id).remove({ force: true });
      removed.push(entry.Id);
    } catch (error) {
      // Gone already is what was wanted.
      if ((error as { statusCode?: number }).statusCode !== 404) throw error;
    }
  }
  return removed;
}

/** The roles of tool containers, the last part of their attempt label (see tool-container.ts). */
const TOOL_ROLE = /-(setup|checks|merge)$/;

/**
 * Longest a merge gate's container can be in use, ms: its checkout, setup and checks each have
 * their own timeout well under this. An older one is a leftover of a killed `orchestra merge`.
 */
export const MERGE_CONTAINER_MAX_AGE_MS = 3 * 60 * 60 * 1000;

/** What one of orchestra's containers is, from its attempt label. */
export interface ContainerRole {
  /** The attempt it works for (`task-03-a2`, or `merge-<hex>` for a merge gate). */
  attemptId: string;
  /** `agent` for the agent's own container, else the tool container's role. */
  role: 'agent' | 'setup' | 'checks' | 'merge';
}

/** Reads a container's {@link ContainerRole} from its `orchestra.attempt` label. */
export function containerRole(label: string): ContainerRole {
  const match = TOOL_ROLE.exec(label);
  if (!match) return { attemptId: label, role: 'agent' };
  return { attemptId: label.slice(0, match.index), role: match[1] as ContainerRole['role'] };
}

/**
 * Removes the containers of a repository that nothing will use again: those `keep` says no to,
 * and merge gates older than {@link MERGE_CONTAINER_MAX_AGE_MS} (a merge may be running from the
 * CLI, so `keep` is not asked about them). Used by a starting server (reconcile) and `orchestra gc`.
 *
 * @param scope.repo the repository's top level: containers labelled with it, whatever their session
 * @param scope.session also containers of this session that carry no repository label (made
 *   before the label existed); one of another repository is never touched
 * @param keep whether a container of this role and attempt may still be in use
 * @returns the names removed
 * @throws Error from dockerode when the engine cannot be asked
 */
export async function removeStrayContainers(
  scope: { repo: string; session?: string },
  keep: (container: ContainerRole) => boolean,
  docker: Docker = dockerClient(),
  now: number = Date.now(),
): Promise<string[]> {
  const list = await docker.listContainers({
    all: true,
    filters: JSON.stringify({ label: [`${LABEL_REPO}=${scope.repo}`] }),
  });
  if (scope.session) {
    const unlabelled = await docker.listContainers({ all: true, filters: sessionFilter(scope.session) });
    list.push(...unlabelled.filter((c) => c.Labels?.[LABEL_REPO] === undefined));
  }
  const removed: string[] = [];
  for (const entry of list) {
    const role = containerRole(entry.Labels?.[LABEL_ATTEMPT] ?? '');
    const stray =
      role.role === 'merge' ? now - entry.Created * 1000 > MERGE_CONTAINER_MAX_AGE_MS : !keep(role);
    if (!stray) continue;
    try {
      await docker.getContainer(entry.Id).remove({ force: true });
      removed.push(entry.Names?.[0]?.replace(/^\//, '') ?? entry.Id);
    } catch (error) {
      // Gone already is what was wanted.
      if ((error as { statusCode?: number }).statusCode !== 404) throw error;
    }
  }
  return removed;
}
