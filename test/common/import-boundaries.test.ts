import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../git/fixtures.js';

/**
 * The import boundaries of issue 12 (.dependency-cruiser.cjs, run by `npm run build`): no import
 * cycle anywhere in src/, the client and the server apart, src/protocol importing neither, pure
 * modules reaching no disk, socket, process, PTY or Docker. The same rules run on a fixture with a
 * deliberate violation of each, so a rule that matches nothing cannot pass unnoticed.
 */

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CONFIG = join(REPO, '.dependency-cruiser.cjs');
const DEPCRUISE = join(REPO, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

/** Runs dependency-cruiser with the project's rules on `src` under `cwd`. */
function cruise(cwd: string): Violation[] {
  const run = spawnSync(process.execPath, [DEPCRUISE, 'src', '--config', CONFIG, '--output-type', 'json'], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.ok(run.stdout, `dependency-cruiser printed nothing: ${run.stderr}`);
  return (JSON.parse(run.stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

function describeViolations(violations: Violation[]): string {
  return violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`).join('\n');
}

describe('import boundaries', () => {
  test('src/ has no import cycle and crosses no boundary', () => {
    const violations = cruise(REPO);
    assert.deepEqual(violations, [], describeViolations(violations));
  });

  describe('a tree with deliberate violations', () => {
    let root: string;
    let violations: Violation[];

    before(async () => {
      root = await tempDir();
      const files: Record<string, string> = {
        'tsconfig.json': JSON.stringify({
          compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true },
        }),
        // A pure module reaching node:fs through a module beside it.
        'src/layout/grid.ts': "import { stamp } from '../store/disk.js';\nexport const grid = stamp;\n",
        'src/store/disk.ts': "import { statSync } from 'node:fs';\nexport const stamp = statSync;\n",
        // A cycle.
        'src/tasks/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
        'src/tasks/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
        // The client importing the server.
        'src/server/size.ts': 'export const STATUS_ROWS = 1;\n',
        'src/client/bar.ts':
          "import { STATUS_ROWS } from '../server/size.js';\nexport const rows = STATUS_ROWS;\n",
      };
      for (const [path, text] of Object.entries(files)) {
        await mkdir(dirname(join(root, path)), { recursive: true });
        await writeFile(join(root, path), text);
      }
      violations = cruise(root);
    });

    after(async () => {
      await rm(root, { recursive: true, force: true });
    });

    test('an import cycle is reported', () => {
      assert.ok(
        violations.some((v) => v.rule.name === 'no-circular' && v.from === 'src/tasks/a.ts'),
        describeViolations(violations),
      );
    });

    test('a pure module reaching node:fs is reported, even through another module', () => {
      assert.ok(
        violations.some(
          (v) => v.rule.name === 'pure-no-io' && v.from === 'src/layout/grid.ts' && v.to === 'fs',
        ),
        describeViolations(violations),
      );
    });

    test('the client importing the server is reported', () => {
      assert.ok(
        violations.some((v) => v.rule.name === 'client-not-server' && v.from === 'src/client/bar.ts'),
        describeViolations(violations),
      );
    });
  });
});
