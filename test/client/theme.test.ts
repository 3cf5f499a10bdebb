import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { DEFAULT_COLOR } from '../../src/client/cell-render.js';
import { colorIndex, loadTheme, THEMES_DIR, themeProblem } from '../../src/client/theme.js';

async function shipped(name: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(new URL(`${name}.json`, THEMES_DIR), 'utf8')) as Record<string, unknown>;
}

describe('themes', () => {
  test('the shipped themes load, their colours resolved', async () => {
    for (const name of ['default', 'light']) {
      const theme = await loadTheme(name);
      assert.equal(theme.file.name, name);
      assert.equal(typeof theme.status, 'number');
    }
    const theme = await loadTheme('default');
    assert.equal(theme.stateColor.working, 6, 'cyan');
    assert.equal(theme.stateColor.error, 1, 'red');
  });

  test('a bad theme file is named by its first wrong setting', async () => {
    const good = await shipped('default');
    assert.equal(themeProblem(good), undefined);
    assert.equal(themeProblem({ ...good, extra: 1 }), 'extra: not a theme setting');
    const { status: _, ...noStatus } = good;
    assert.equal(themeProblem(noStatus), 'status: expected object, received undefined');
    assert.equal(
      themeProblem({ ...good, title: { fg: 'white', bold: 'yes' } }),
      'title.bold: expected boolean, received string',
    );
    assert.equal(
      themeProblem({ ...good, title: { colour: 'white' } }),
      'title.colour: not a style setting (fg, bg, bold)',
    );
    assert.equal(
      themeProblem({ ...good, stateDone: '' }),
      'stateDone: expected a colour name, index or #rrggbb',
    );
    assert.equal(themeProblem([1]), '(root): expected object, received array');
  });

  test('a theme that does not exist or has a path in its name is refused with a hint', async () => {
    await assert.rejects(loadTheme('nope'), (error: Error & { hint?: string }) => {
      assert.match(error.message, /theme "nope" cannot be read/);
      assert.match(error.hint ?? '', /"default" or "light"/);
      return true;
    });
    await assert.rejects(loadTheme('../package'), /not a valid theme name/);
  });

  test('colour names, indices and #rgb resolve to palette indices', () => {
    assert.equal(colorIndex('green'), 2);
    assert.equal(colorIndex('bright-blue'), 12);
    assert.equal(colorIndex('lightred'), 9);
    assert.equal(colorIndex('grey'), 8);
    assert.equal(colorIndex('42'), 42);
    assert.equal(colorIndex('#ff0000'), 196);
    assert.equal(colorIndex('#f00'), 196);
    assert.equal(colorIndex('default'), DEFAULT_COLOR);
    assert.equal(colorIndex('no-such-colour'), DEFAULT_COLOR);
  });
});
