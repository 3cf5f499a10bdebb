#!/usr/bin/env node
// Bundles orchestra's built-in agent (src/workers/agent-entry.ts and everything it imports, npm
// packages included) into one ESM file that runs on the worker image's Node, Debian bookworm's v18:
// dist-worker/orchestra-agent.mjs. Dockerfile.worker copies it to /opt/orchestra/.
//
//   node scripts/bundle-agent.mjs            (part of `npm run build`)
//
// esbuild's output is deterministic for the same inputs, so the image version (a hash of
// Dockerfile.worker and this bundle) changes only when the agent does.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { ESM_BANNER } from './esm-banner.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Where the bundle goes, relative to the package root (image.ts reads the same path). */
export const AGENT_BUNDLE = 'dist-worker/orchestra-agent.mjs';

/**
 * Builds the bundle.
 *
 * @param {{ root?: string, outfile?: string }} [options] package root (default: this checkout) and
 *   output path (default `<root>/dist-worker/orchestra-agent.mjs`)
 * @returns {Promise<{ outfile: string, bytes: number }>}
 * @throws esbuild's error (with every message printed to stderr) when the agent does not bundle
 */
export async function bundleAgent(options = {}) {
  const root = options.root ?? ROOT;
  const outfile = options.outfile ?? path.join(root, AGENT_BUNDLE);
  await build({
    absWorkingDir: root,
    entryPoints: [path.join(root, 'src/workers/agent-entry.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node18',
    format: 'esm',
    // Prefer packages' ESM builds: UMD builds (jsonc-parser's) hide their requires from the bundler.
    mainFields: ['module', 'main'],
    banner: { js: ESM_BANNER },
    tsconfig: path.join(root, 'tsconfig.json'),
    legalComments: 'none',
    sourcemap: false,
    logLevel: 'warning',
  });
  return { outfile, bytes: (await stat(outfile)).size };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  bundleAgent().then(
    ({ outfile, bytes }) => {
      console.log(
        `bundled the agent: ${path.relative(process.cwd(), outfile)} (${Math.round(bytes / 1024)} KiB)`,
      );
    },
    () => {
      // esbuild has already printed each error with its file and line.
      process.exitCode = 1;
    },
  );
}
