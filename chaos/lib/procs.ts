import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * Finding a run's processes by what they carry, never by name: every process a run starts (its
 * orchestra servers and, through them, agents, their bash tools, setup and check commands) has
 * {@link MARKER_VAR}=<run id> in its environment; an agent also has ORCHESTRA_RUN_DIR=<run dir>.
 */
export const MARKER_VAR = 'ORCHESTRA_CHAOS_RUN';

export interface ProcInfo {
  pid: number;
  ppid: number;
  cmdline: string;
  cwd: string;
  /** Environment entries that matter here. */
  runDir: string | undefined;
}

function environ(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  } catch {
    return undefined;
  }
}

/** True unless the process is gone or a zombie. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function info(pid: number, env: string[]): ProcInfo {
  let cmdline = '';
  let cwd = '';
  let ppid = 0;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {}
  try {
    cwd = readlinkSync(`/proc/${pid}/cwd`);
  } catch {}
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {}
  const runDir = env.find((e) => e.startsWith('ORCHESTRA_RUN_DIR='))?.slice('ORCHESTRA_RUN_DIR='.length);
  return { pid, ppid, cmdline, cwd, runDir };
}

/** Live processes (zombies excluded) whose environment has `MARKER_VAR=runId`; this process excluded. */
export function markedProcesses(runId: string): ProcInfo[] {
  const needle = `${MARKER_VAR}=${runId}`;
  const out: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const env = environ(pid);
    if (!env?.includes(needle) || !alive(pid)) continue;
    out.push(info(pid, env));
  }
  return out;
}

/** Agent processes of a run: marked, with ORCHESTRA_RUN_DIR below `runsDir`. */
export function agentProcesses(runId: string, runsDir: string): ProcInfo[] {
  return markedProcesses(runId).filter(
    (p) => p.runDir !== undefined && (p.runDir === runsDir || p.runDir.startsWith(`${runsDir}/`)),
  );
}

/** SIGKILLs `pids` (each by its id); gone ones are skipped. */
export function killPids(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
}

/** One line per process for a report: `pid 123 (agent task-01-a1): node .../orchestra agent ...`. */
export function describeProcs(procs: ProcInfo[], limit = 4): string {
  const shown = procs.slice(0, limit).map((p) => {
    const who = p.runDir ? ` agent of ${p.runDir.split('/').pop()}` : '';
    return `pid ${p.pid}${who}: ${p.cmdline.slice(0, 80)}`;
  });
  return shown.join('; ') + (procs.length > limit ? `; and ${procs.length - limit} more` : '');
}
