import { type Command, InvalidArgumentError } from 'commander';
import type { CommandEnv } from '../command-env.js';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('expected a port number 0-65535');
  return n;
}

/** Registers `orchestra model-server`: the scripted Messages API used by the demo and the tests. */
export function registerModelServerCommand(program: Command, env: CommandEnv): void {
  program
    .command('model-server')
    .description(
      'serve a scripted Anthropic Messages API from a scenario file (no real model; for demos and tests)',
    )
    .requiredOption('--scenario <file>', 'scenario file (JSON or YAML): the assistant turns to play back')
    .option('--port <port>', 'port to listen on (default: any free port)', port)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .action(async (opts: { scenario: string; port?: number; host: string }) => {
      const { runModelServerCommand } = await import('../../model-server/model-server-command.js');
      await runModelServerCommand(
        { scenario: opts.scenario, host: opts.host, ...(opts.port === undefined ? {} : { port: opts.port }) },
        { out: (line) => env.output.out(line) },
      );
    });
}
