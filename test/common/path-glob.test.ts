import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { globProblem, matchesAnyGlob } from '../../src/common/path-glob.js';
import { DOCS_EDITABLE } from '../../src/config/builtins.js';

describe('editable globs', () => {
  const cases: [string, string, boolean][] = [
    ['**/*.md', 'README.md', true],
    ['**/*.md', 'docs/guide/intro.md', true],
    ['**/*.md', 'src/a.ts', false],
    ['**/*.md', 'README.md.ts', false],
    ['**/*.md', '.github/notes.md', false],
    ['.github/**', '.github/notes.md', true],
    ['docs/**', 'docs/a/b/c.png', true],
    ['docs/**', 'docs', false],
    ['docs/**', 'src/docs/a.md', false],
    ['docs/*.md', 'docs/a/b.md', false],
    ['src/**/*.test.ts', 'src/a.test.ts', true],
    ['src/**/*.test.ts', 'src/x/y/a.test.ts', true],
    ['**', 'anything/at/all.ts', true],
    ['**', '.env', false],
    ['src/{a,b}.ts', 'src/b.ts', true],
    ['src/{a,b}.ts', 'src/c.ts', false],
    ['file?.txt', 'file1.txt', true],
    ['file?.txt', 'file/.txt', false],
    ['a+b(c).md', 'a+b(c).md', true],
    ['a+b(c).md', 'aab(c).md', false],
  ];
  for (const [pattern, path, expected] of cases) {
    test(`${pattern} ${expected ? 'matches' : 'does not match'} ${path}`, () => {
      assert.equal(matchesAnyGlob(path, [pattern]), expected);
    });
  }

  test("the docs profile's list takes documentation and nothing else", () => {
    for (const path of ['README.md', 'docs/api.mdx', 'doc/index.rst', 'LICENSE.txt', 'docs/logo.svg']) {
      assert.equal(matchesAnyGlob(path, DOCS_EDITABLE), true, path);
    }
    for (const path of ['src/index.ts', 'package.json', 'test/docs/x.ts']) {
      assert.equal(matchesAnyGlob(path, DOCS_EDITABLE), false, path);
    }
  });

  for (const [pattern, reason] of [
    ['', /empty/],
    ['/etc/**', /absolute/],
    ['!src/**', /negation/],
    ['src/[ab].ts', /character classes/],
    ['docs/', /empty path segment/],
    ['a//b', /empty path segment/],
    ['../x/**', /"\.\." segments/],
    ['src/**.ts', /whole path segment/],
    ['src/{a,{b,c}}.ts', /without nesting/],
    ['src/{a.ts', /pair up/],
    ['src\\a.ts', /backslash/],
  ] as const) {
    test(`refuses ${JSON.stringify(pattern)}`, () => assert.match(globProblem(pattern) ?? '', reason));
  }
});
