import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/**
 * Files of the demo's sample repository: a small JavaScript library with a real test suite on
 * Node's built-in runner, so `npm test` passes before any agent touches it.
 */
export const SAMPLE_FILES: Record<string, string> = {
  'package.json': `${JSON.stringify(
    {
      name: 'orchestra-demo-calc',
      version: '1.0.0',
      type: 'module',
      private: true,
      scripts: { test: 'node --test test/' },
    },
    null,
    2,
  )}\n`,
  'src/calc.js': `/** Adds two numbers. */
export function add(a, b) {
  return a + b;
}

/** Subtracts b from a. */
export function subtract(a, b) {
  return a - b;
}
`,
  'test/calc.test.js': `import assert from 'node:assert/strict';
import { test } from 'node:test';
import { add, subtract } from '../src/calc.js';

test('add', () => {
  assert.equal(add(2, 3), 5);
});

test('subtract', () => {
  assert.equal(subtract(5, 3), 2);
});
`,
  'README.md': '# calc\n\nA tiny calculator library used by the orchestra demo.\n',
};

/** The demo's queued tasks: the third runs best-of-3. */
export const SAMPLE_TASKS = [
  `# Add multiply\n\n## Goal\nAdd a \`multiply(a, b)\` function to src/calc.js with a test.\n\n## Acceptance criteria\n- [ ] multiply(3, 4) returns 12\n- [ ] npm test passes\n\n## Files to touch\n- \`src/calc.js\`\n- \`test/calc.test.js\`\n\n## Test plan\n1. Run \`npm test\`\n`,
  `# Add divide\n\n## Goal\nAdd a \`divide(a, b)\` function that throws a RangeError on division by zero.\n\n## Acceptance criteria\n- [ ] divide(8, 2) returns 4\n- [ ] divide(1, 0) throws RangeError\n\n## Test plan\n1. Run \`npm test\`\n`,
  `---\nstrategy: best-of-n\nn: 3\n---\n# Document the API\n\n## Goal\nDescribe every exported function in README.md with an example.\n\n## Acceptance criteria\n- [ ] every export of src/calc.js is documented\n`,
];

/**
 * Creates the sample repository at `dir` (which must be empty or missing): files, a git repository
 * on `main` with one commit.
 */
export async function createSampleRepo(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [path, content] of Object.entries(SAMPLE_FILES)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  const git = (...args: string[]) => exec('git', args, { cwd: dir });
  await git('init', '--quiet', '-b', 'main');
  await git('config', 'user.name', 'orchestra demo');
  await git('config', 'user.email', 'demo@orchestra.invalid');
  await git('add', '-A');
  await git('commit', '--quiet', '-m', 'calc: add and subtract');
}
