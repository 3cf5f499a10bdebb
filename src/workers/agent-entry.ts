/**
 * Entry of the agent bundle baked into the worker image (`/usr/local/bin/orchestra` there runs
 * `node /opt/orchestra/orchestra-agent.mjs "$@"`). scripts/bundle-agent.mjs bundles this file for
 * the image's Node 18; it takes only `orchestra agent ...`, not the whole CLI.
 */
import { runAgentCommand } from '../agents/builtin/run-agent.js';
import { AGENT_USAGE, parseAgentArgv } from './agent-argv.js';

const EXIT_USAGE = 2;

async function main(): Promise<number> {
  const parsed = parseAgentArgv(process.argv.slice(2));
  if ('error' in parsed) {
    process.stderr.write(`error: ${parsed.error}\n${AGENT_USAGE}\n`);
    return EXIT_USAGE;
  }
  return runAgentCommand({
    task: parsed.task,
    runDir: parsed.runDir,
    resume: parsed.resume,
    profile: parsed.profile,
    cwd: process.cwd(),
    env: process.env,
    stdin: process.stdin,
    stdout: process.stdout,
  });
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // Last resort: runAgentCommand reports its own failures; this is a bug, so keep the stack.
    process.stderr.write(
      `error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
