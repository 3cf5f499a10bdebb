import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/**
 * How long a stale agent gets to checkpoint and exit after SIGHUP before it is killed, ms. The
 * built-in agent saves one small JSON file and exits within milliseconds; 5 s covers a loaded machine.
 */
export const STALE_AGENT_GRACE_MS = 5_000;

/** How often the process table is looked at while waiting, ms. */
const POLL_MS = 50;

/**
 * Ends the local agent process a previous server of this session left behind for the attempt
 * whose run directory is `runDir`, and waits until it is gone, so a resumed agent never works
 * beside the old one on the same worktree and checkpoint.
 *
 * A local agent normally dies with its server: the PTY hangs up and the agent gets SIGHUP
 * (DESIGN.md, "Processes" 3). But the PTY only hangs up once every copy of its master side is
 * closed, and node-pty's master descriptor is inherited by the server's other children (check
 * and setup commands, git): while one of them still runs, the old agent lives on.
 *
 * `pid` comes from the store and may have been reused since; only a process whose environment
 * (or, without /proc, command line) names `runDir` is touched. It gets SIGHUP, as a hangup would
 * send (the built-in agent checkpoints and exits on it), then SIGKILL after `graceMs`.
 *
 * @returns true when such a process was running
 */
export async function endStaleAgent(
  pid: number,
  runDir: string,
  graceMs = STALE_AGENT_GRACE_MS,
): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) return false;
  if (!(await isRunning(pid)) || !(await belongsTo(pid, runDir))) return false;
  signal(pid, 'SIGHUP');
  if (await gone(pid, graceMs)) return true;
  signal(pid, 'SIGKILL');
  await gone(pid, graceMs);
  return true;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // ESRCH: it ended on its own in the meantime.
  }
}

async function gone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (await isRunning(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return true;
}

/**
 * True while `pid` runs. A zombie counts as gone: the orphaned agent's new parent reaps it, or in
 * a container whose init never reaps, it stays a zombie that does no harm.
 */
async function isRunning(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The state letter follows the parenthesised command name, which may itself hold ") ".
    const close = stat.lastIndexOf(')');
    return stat.slice(close + 2, close + 3) !== 'Z';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && (await hasProc())) return false;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function hasProc(): Promise<boolean> {
  return readFile('/proc/self/stat', 'utf8').then(
    () => true,
    () => false,
  );
}

/** Whether `pid` is an agent of `runDir`: `ORCHESTRA_RUN_DIR` (every adapter sets it), else its argv. */
async function belongsTo(pid: number, runDir: string): Promise<boolean> {
  const environ = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => undefined);
  if (environ !== undefined) return environ.split('\0').includes(`ORCHESTRA_RUN_DIR=${runDir}`);
  // No /proc (macOS): the command line, which names the run directory for the built-in agent.
  const args = await new Promise<string>((resolve) => {
    execFile('ps', ['-o', 'args=', '-p', String(pid)], { timeout: 5_000 }, (error, stdout) =>
      resolve(error ? '' : stdout),
    );
  });
  return args.includes(runDir);
}
