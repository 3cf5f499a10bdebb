import type { Command } from 'commander';
import type { CommandEnv } from '../command-env.js';

/** Registers `orchestra image build`. */
export function registerImageCommands(program: Command, env: CommandEnv): void {
  const image = program.command('image').description('the Docker image workers run in (Dockerfile.worker)');
  image
    .command('build')
    .description('build the worker image through the Docker engine, with the built-in agent bundled')
    .option('--tag <tag>', 'image tag (default: worker.image from the config)')
    .option(
      '--base <image>',
      'base image (default debian:bookworm-slim; see scripts/build-base-image.sh offline)',
    )
    .option(
      '--claude [version]',
      'also put Claude Code in the image (npm @anthropic-ai/claude-code, installed here; default latest)',
    )
    .option(
      '--codex [version]',
      'also put the Codex CLI in the image (npm @openai/codex, installed here; default latest)',
    )
    .option('--aider', 'also install Aider in the image (needs PyPI)')
    .option('--no-cache', 'rebuild every layer')
    .option('-q, --quiet', 'print only the summary')
    .option('--json', 'print the result as JSON')
    .action(async (opts: Record<string, unknown>) => {
      const { runImageBuildCommand } = await import('../../workers/image-command.js');
      await runImageBuildCommand({ ...opts, noCache: opts.cache === false }, env);
    });
  image
    .command('ship <host>')
    .description("put this machine's worker image on a host of worker.hosts, engine to engine (no registry)")
    .option('-q, --quiet', 'print only the summary')
    .option('--json', 'print the result as JSON')
    .action(async (host: string, opts: { quiet?: boolean; json?: boolean }) => {
      const { runImageShipCommand } = await import('../../workers/image-command.js');
      await runImageShipCommand(host, opts, env);
    });
}
