/**
 * `orchestra model-server`: serves a scenario file as a scripted Messages API until SIGTERM/SIGINT,
 * for the demo and for trying agents on a machine that cannot reach Anthropic.
 */
import { resolve } from 'node:path';
import { loadScenarioFile } from './scenario.js';
import { startScriptedModelServer } from './scripted-server.js';

/** Arguments of {@link runModelServerCommand}. */
export interface ModelServerCommandArgs {
  /** Path of the scenario file (JSON, or YAML by extension). */
  scenario: string;
  /** Default 0: any free port (the printed URL says which). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
}

/** Where the command prints and what else may stop it; both optional (tests and embedding). */
export interface ModelServerCommandIo {
  /** Prints one line; default: process stdout. */
  out?: (line: string) => void;
  /** Stops the server like SIGTERM does. */
  signal?: AbortSignal;
}

/**
 * Starts the scripted server, prints `model server listening on <url>`, and resolves after
 * SIGTERM or SIGINT (or `io.signal`) once the server has closed.
 * @throws OrchestraError CONFIG_UNREADABLE / CONFIG_INVALID for a bad scenario file, USAGE for a taken port
 */
export async function runModelServerCommand(
  args: ModelServerCommandArgs,
  io: ModelServerCommandIo = {},
): Promise<void> {
  const out = io.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const scenario = await loadScenarioFile(resolve(args.scenario));
  const server = await startScriptedModelServer({
    scenario,
    ...(args.host === undefined ? {} : { host: args.host }),
    ...(args.port === undefined ? {} : { port: args.port }),
  });
  out(`model server listening on ${server.url}`);
  await new Promise<void>((done) => {
    const stop = () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      io.signal?.removeEventListener('abort', stop);
      done();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    if (io.signal?.aborted) stop();
    else io.signal?.addEventListener('abort', stop, { once: true });
  });
  await server.close();
}
