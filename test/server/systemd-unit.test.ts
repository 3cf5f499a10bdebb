import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isOrchestraError } from '../../src/common/errors.js';
import { renderServerUnit, type ServerUnitSpec } from '../../src/server/systemd-unit.js';
import { systemdAnalyzeSkipReason, verifyUnit } from '../support/systemd.js';

/**
 * The unit of `orchestra service install`, rendered from paths that need systemd's quoting: a
 * space, `%` (a specifier), `$` (a variable in ExecStart=) and quotes.
 */

const TRICKY = 'my repo 100% $HOME "q"';

function spec(over: Partial<ServerUnitSpec> = {}): ServerUnitSpec {
  return {
    session: 'demo',
    root: `/srv/${TRICKY}`,
    node: '/usr/bin/node',
    entry: '/opt/orchestra/bin/orchestra',
    path: '/usr/bin:/bin',
    environmentFile: '/home/me/.config/orchestra/env',
    ...over,
  };
}

function values(unit: string, key: string): string[] {
  return unit
    .split('\n')
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));
}

describe('renderServerUnit', () => {
  test('writes each value by the quoting rules of its setting', () => {
    const unit = renderServerUnit(spec({ socketBase: '/run/o 1' }));
    assert.deepEqual(values(unit, 'WorkingDirectory'), ['/srv/my repo 100%% $HOME "q"']);
    assert.deepEqual(values(unit, 'ExecStart'), [
      '"/usr/bin/node" "/opt/orchestra/bin/orchestra" "server" "-s" "demo" "--repo" "/srv/my repo 100%% $$HOME \\"q\\""',
    ]);
    assert.deepEqual(values(unit, 'Environment'), ['"PATH=/usr/bin:/bin"', '"ORCHESTRA_TMPDIR=/run/o 1"']);
    assert.deepEqual(values(unit, 'EnvironmentFile'), ['-/home/me/.config/orchestra/env']);
    assert.deepEqual(values(unit, 'Restart'), ['on-failure']);
    assert.deepEqual(values(unit, 'WantedBy'), ['default.target']);
  });

  test('refuses what a unit cannot hold, with a hint', () => {
    const refused = [
      spec({ root: '/srv/two\nlines' }),
      spec({ root: '/srv/trailing ' }),
      spec({ root: '/srv/ends-in\\' }),
      spec({ node: '/opt/"node"/bin/node' }),
      spec({ entry: 'bin/orchestra' }),
    ];
    for (const s of refused) {
      assert.throws(
        () => renderServerUnit(s),
        (error: unknown) => isOrchestraError(error, 'USAGE') && error.hint !== undefined,
        JSON.stringify(s),
      );
    }
  });
});

describe('systemd-analyze verify on rendered units', async () => {
  const skip = await systemdAnalyzeSkipReason();
  let dir: string;
  before(async () => {
    dir = await realpath(await mkdtemp(join(tmpdir(), 'orchestra-')));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // verify checks that ExecStart='s program exists, so a node reached through a path that needs
  // quoting proves systemd reads that path back as it was meant.
  test('accepts a unit whose node and repository need quoting', { skip: skip ?? false }, async () => {
    const root = join(dir, TRICKY);
    // systemd refuses quotes in the program's own path (the renderer does too), not `%` or `$`;
    // `%h` is a specifier (the home directory), so only `%%h` names this directory.
    const bin = join(dir, 'node 100%h $HOME');
    await mkdir(root);
    await mkdir(bin);
    await symlink(process.execPath, join(bin, 'node'));
    const unit = renderServerUnit(spec({ root, node: join(bin, 'node') }));
    const verdict = await verifyUnit(unit, 'orchestra-demo.service');
    assert.ok(verdict.ok, verdict.output);

    const program = /^ExecStart="([^"]*)"/m.exec(unit)?.[1] ?? '';
    assert.equal(program, join(bin, 'node').replace('%', '%%'));
    const withProgram = (text: string) => unit.replace(`ExecStart="${program}"`, () => `ExecStart="${text}"`);
    const lone = await verifyUnit(withProgram(program.replace('%%', '%')), 'orchestra-demo.service');
    assert.equal(lone.ok, false, 'a lone %h is expanded, so the program is not found');
    const doubled = await verifyUnit(withProgram(program.replace('$', () => '$$')), 'orchestra-demo.service');
    assert.equal(doubled.ok, false, 'systemd expands no $ in the program, so $$ stays $$');
  });
});
