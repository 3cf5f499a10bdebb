import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Metafile } from 'esbuild';
// @ts-expect-error: a JavaScript build script without type declarations
import { bundleCli } from '../../scripts/bundle-cli.mjs';

/**
 * What a process loads when it starts, read from the real CLI bundle: the modules and packages
 * reached from an entry through static imports (dynamic imports load later, on demand).
 */
function loadedAtStart(
  metafile: Metafile,
  source: string,
): { modules: Set<string>; packages: Set<string>; files: Set<string> } {
  const outputs = metafile.outputs;
  const modules = new Set<string>();
  const packages = new Set<string>();
  const files = new Set<string>();
  // The chunk whose inputs hold `source` stands for it; a module can sit in a shared chunk.
  const start = Object.keys(outputs).filter((name) => Object.keys(outputs[name]!.inputs).includes(source));
  assert.ok(start.length > 0, `${source} is in the bundle`);
  const queue = [...start];
  const seen = new Set(queue);
  while (queue.length > 0) {
    const output = outputs[queue.pop()!]!;
    for (const input of Object.keys(output.inputs)) {
      files.add(input);
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1];
      if (pkg) packages.add(pkg);
      else modules.add(input);
    }
    for (const imported of output.imports) {
      if (imported.kind !== 'import-statement') continue;
      if (imported.external) packages.add(imported.path.replace(/^((?:@[^/]+\/)?[^/]+).*$/, '$1'));
      else if (!seen.has(imported.path)) {
        seen.add(imported.path);
        queue.push(imported.path);
      }
    }
  }
  return { modules, packages, files };
}

/** Issue 12: command clients start in little more than Node's own time; a plain session's server too. */
describe('what starts with a process', () => {
  let out: string;
  let metafile: Metafile;
  before(async () => {
    out = await mkdtemp(join(tmpdir(), 'orchestra-bundle-'));
    ({ metafile } = (await bundleCli({ outdir: out })) as { metafile: Metafile });
  });
  after(async () => {
    await rm(out, { recursive: true, force: true });
  });

  test('ls, capture-pane and send-keys load neither zod, blessed, xterm, simple-git nor a lock library', () => {
    const { packages, modules } = loadedAtStart(metafile, 'src/cli/commands/session.ts');
    for (const heavy of [
      'zod',
      'blessed',
      '@xterm/headless',
      'simple-git',
      'proper-lockfile',
      'dockerode',
      'pino',
    ]) {
      assert.ok(!packages.has(heavy), `a command client loads ${heavy}: ${[...packages].join(', ')}`);
    }
    assert.ok(packages.has('commander'), 'the reading is not vacuous: the argument parser is there');
    assert.ok(!modules.has('src/git/repo.ts'), 'the repository lookup waits until a target needs it');
  });

  test('attach loads neither zod, the config, simple-git nor an emulator before its screen is up', () => {
    // attach.ts at start, then the TUI it imports when it runs: the whole path to a full screen.
    const command = loadedAtStart(metafile, 'src/cli/commands/attach.ts');
    const tui = loadedAtStart(metafile, 'src/client/tui.ts');
    const packages = new Set([...command.packages, ...tui.packages]);
    const modules = new Set([...command.modules, ...tui.modules]);
    for (const heavy of ['zod', 'simple-git', 'jsonc-parser', '@xterm/headless', 'node-pty', 'pino']) {
      assert.ok(!packages.has(heavy), `attach loads ${heavy}: ${[...packages].join(', ')}`);
    }
    for (const module of ['src/config/load.ts', 'src/config/schema.ts', 'src/git/repo.ts']) {
      assert.ok(!modules.has(module), `attach loads ${module} at start`);
    }
    assert.ok(
      modules.has('src/client/terminal-screen.ts'),
      'the reading is not vacuous: the screen is there',
    );
  });

  test('a session without tasks starts its server without the scheduler, Docker, git, the store or pino', () => {
    const { packages, modules, files } = loadedAtStart(metafile, 'src/server/run.ts');
    for (const heavy of ['dockerode', 'simple-git', 'lowdb', 'pino', 'chokidar', '@anthropic-ai/sdk']) {
      assert.ok(!packages.has(heavy), `the server loads ${heavy} at start: ${[...packages].join(', ')}`);
    }
    for (const module of ['src/scheduler/scheduler.ts', 'src/store/store.ts', 'src/config/load.ts']) {
      assert.ok(!modules.has(module), `the server loads ${module} at start`);
    }
    assert.ok(
      packages.has('node-pty') && packages.has('@xterm/headless'),
      'panes and their emulator are there',
    );
    // The protocol's schemas are zod/mini: classic zod (its schema classes and methods) waits
    // for the config, which only a repository's session loads.
    const classic = [...files].filter((file) => file.includes('node_modules/zod/v4/classic/'));
    assert.deepEqual(classic, [], 'the server starts without classic zod');
    assert.ok(
      [...files].some((file) => file.includes('node_modules/zod/v4/mini/')),
      'zod/mini is there',
    );
  });
  test('zod comes in shaken: what the schemas use, not its 60-odd error-message locales', () => {
    // `import { z } from 'zod'` takes zod's whole namespace object, which esbuild cannot shake:
    // 755 KB of zod in the bundle and 3.6 MiB more RSS in every process that loads it.
    // `import * as z from 'zod'` lets it keep only the members used (and the English locale
    // zod sets up itself).
    const inputs = Object.values(metafile.outputs).flatMap((output) => Object.keys(output.inputs));
    const zod = inputs.filter((input) => input.includes('node_modules/zod/'));
    assert.ok(zod.length > 0, 'zod is in the bundle');
    const locales = zod.filter((input) => input.includes('/v4/locales/'));
    assert.deepEqual(
      locales.map((input) => input.replace(/^.*\/locales\//, '')),
      ['en.js'],
      'only the English locale',
    );
  });
});
