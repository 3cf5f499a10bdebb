import { createHash } from 'node:crypto';

/**
 * How orchestra marks its worker containers, so a restarted server, `orchestra gc` and `doctor`
 * find them again (DESIGN.md, "Processes" 3). Labels carry ids only: never a secret.
 */

/** Session (repository) a worker belongs to. */
export const LABEL_SESSION = 'orchestra.session';
/**
 * The host repository (absolute path of its top level) a container works for: two repositories
 * whose sessions share a name (same directory name) never take each other's containers for strays.
 */
export const LABEL_REPO = 'orchestra.repo';
/** Task id, e.g. `task-03`. */
export const LABEL_TASK = 'orchestra.task';
/** Attempt id, e.g. `task-03-a2`. */
export const LABEL_ATTEMPT = 'orchestra.attempt';
/**
 * JSON list of the loopback endpoints forwarded into the container
 * (`[{ name, target: { host, port }, port }]`), so a restarted server can listen on the same ports
 * the container's environment already names.
 */
export const LABEL_FORWARDS = 'orchestra.forwards';

/** Docker's rule for container names. */
const CONTAINER_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/**
 * The container name of an attempt: `orchestra-<session>-<repo>-<attemptId>`, where `<repo>` is
 * the first 8 hex digits of the SHA-256 of the repository's top level. Session names repeat across
 * repositories (they default to the directory's name) and attempt ids across sessions, and Docker
 * names are unique per engine: without the repository part, a second repository's attempt could
 * not start while the first's ran, and a tool container's "remove the leftover of my name" would
 * remove the other repository's. Without `repo` (tests, containers of older versions):
 * `orchestra-<session>-<attemptId>`.
 *
 * @throws Error when session or attempt id hold characters Docker refuses in names (config and
 *   ids.ts already restrict both, so this is a bug)
 */
export function workerContainerName(session: string, attemptId: string, repo?: string): string {
  const repoPart =
    repo === undefined ? '' : `${createHash('sha256').update(repo).digest('hex').slice(0, 8)}-`;
  const name = `orchestra-${session}-${repoPart}${attemptId}`;
  if (!CONTAINER_NAME_PATTERN.test(name)) throw new Error(`not a valid container name: ${name}`);
  return name;
}

/**
 * The name of the session's package cache volume: `orchestra-<session>-<repo hash>-package-cache`
 * (no attempt id ends in `package-cache`, so it never names a container's).
 */
export function packageCacheVolumeName(session: string, repo?: string): string {
  return workerContainerName(session, 'package-cache', repo);
}
