#!/usr/bin/env node
// Bundles the CLI (src/cli/main.ts and what it imports, npm packages included) for bin/orchestra:
// dist/bundle/main.js and the chunks it loads on demand, dist/bundle/chunks/ (issue 12: a
// command starts in little more than Node's own start-up).
//
//   node scripts/bundle-cli.mjs            (part of `npm run build`)
//
// Split, not one file: the CLI loads each command's module only when that command runs
// (cli/main.ts), and esbuild keeps that laziness only across chunks — in a single ESM file every
// external package's import is hoisted to the top and runs at start. The packages left external
// carry native addons; they are imported from node_modules, in the chunk that needs them only.
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { ESM_BANNER } from './esm-banner.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Where the bundle goes, relative to the package root (bin/orchestra imports its main.js). */
export const CLI_BUNDLE_DIR = 'dist/bundle';

/** Packages not bundled: native addons (node-pty, ssh2's and cpu-features' via dockerode). */
const EXTERNAL = ['node-pty', 'dockerode', 'ssh2', 'cpu-features'];

/**
 * Builds the bundle, replacing any earlier one.
 *
 * @param {{ root?: string, outdir?: string }} [options] package root (default: this checkout) and
 *   output folder (default `<root>/dist/bundle`)
 * @returns {Promise<{ entry: string, bytes: number, files: number, metafile: import('esbuild').Metafile }>}
 *   the entry file, the bytes and number of files written, and esbuild's account of what went where
 * @throws esbuild's error (with every message printed to stderr) when the CLI does not bundle
 */
export async function bundleCli(options = {}) {
  const root = options.root ?? ROOT;
  const outdir = options.outdir ?? path.join(root, CLI_BUNDLE_DIR);
  await rm(outdir, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: { main: path.join(root, 'src/cli/main.ts') },
    outdir,
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    external: EXTERNAL,
    // jsonc-parser's main build is UMD, which hides its requires from the bundler: take its ESM
    // build. (Preferring every package's `module` build instead breaks the xterm addons' default
    // imports, which Node resolves to their CommonJS builds.)
    alias: { 'jsonc-parser': 'jsonc-parser/lib/esm/main.js' },
    banner: { js: ESM_BANNER },
    tsconfig: path.join(root, 'tsconfig.json'),
    legalComments: 'none',
    sourcemap: false,
    metafile: true,
    logLevel: 'warning',
  });
  const outputs = Object.values(result.metafile.outputs);
  const entry = path.join(outdir, 'main.js');
  await stat(entry);
  return {
    entry,
    bytes: outputs.reduce((sum, o) => sum + o.bytes, 0),
    files: outputs.length,
    metafile: result.metafile,
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  bundleCli().then(
    ({ entry, bytes, files }) => {
      console.log(
        `bundled the CLI: ${path.relative(process.cwd(), entry)} and ${files - 1} chunks (${Math.round(bytes / 1024)} KiB)`,
      );
    },
    () => {
      // esbuild has already printed each error with its file and line.
      process.exitCode = 1;
    },
  );
}
