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
 * The container name of an attempt: `orchestra-<session>-<attemptId>`.
 *
 * @throws Error when session or attempt id hold characters Docker refuses in names (config and
 *   ids.ts already restrict both, so this is a bug)
 */
export function workerContainerName(session: string, attemptId: string): string {
  const name = `orchestra-${session}-${attemptId}`;
  if (!CONTAINER_NAME_PATTERN.test(name)) throw new Error(`not a valid container name: ${name}`);
  return name;
}
