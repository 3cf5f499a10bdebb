import { parseArgs } from 'node:util';

/** What `orchestra agent` was asked to do inside a worker. */
export interface AgentArgv {
  /** Task file to work on (path as given). */
  task: string;
  /** The attempt's run directory: checkpoint, transcript and events.jsonl go there. */
  runDir: string;
  /** Continue from the checkpoint in `runDir` instead of starting afresh. */
  resume: boolean;
  /** Profile name from the config (model, tools, limits). */
  profile?: string;
}

/** The one usage line, printed on any argument problem. */
export const AGENT_USAGE =
  'usage: orchestra agent --task <file> --run-dir <dir> [--resume] [--profile <name>]';

/**
 * Parses the worker's `orchestra agent ...` argv (without node and the script). Kept apart from
 * commander so the worker bundle stays small; `--run-dir` falls back to `ORCHESTRA_RUN_DIR`, which
 * every worker has set to `/run/orchestra`.
 *
 * @returns the parsed options, or `{ error }` with one line saying what is wrong
 */
export function parseAgentArgv(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): AgentArgv | { error: string } {
  const [command, ...rest] = argv;
  if (command !== 'agent') {
    return { error: command === undefined ? 'missing command "agent"' : `unknown command "${command}"` };
  }
  let values: { task?: string; 'run-dir'?: string; resume?: boolean; profile?: string };
  try {
    ({ values } = parseArgs({
      args: [...rest],
      options: {
        task: { type: 'string' },
        'run-dir': { type: 'string' },
        resume: { type: 'boolean', default: false },
        profile: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    return { error: (error as Error).message.split('\n')[0] ?? 'bad arguments' };
  }
  const runDir = values['run-dir'] ?? env.ORCHESTRA_RUN_DIR;
  if (!values.task) return { error: 'missing --task <file>' };
  if (!runDir) return { error: 'missing --run-dir <dir> (and ORCHESTRA_RUN_DIR is not set)' };
  const parsed: AgentArgv = { task: values.task, runDir, resume: values.resume === true };
  if (values.profile !== undefined) parsed.profile = values.profile;
  return parsed;
}
