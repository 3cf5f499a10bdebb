import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { OrchestraError } from '../common/errors.js';
import type { OrchestraPaths } from '../common/paths.js';
import { BUILTIN_STRATEGIES } from './builtin.js';
import type { Strategy } from './types.js';

/**
 * The strategy a task names: a built-in, or `.orchestra/strategies/<name>.mjs` exporting
 * `strategy` (`{ name, run(ctx) }`, see types.ts).
 *
 * @throws OrchestraError TASK_INVALID when there is no such strategy or the module is malformed
 */
export async function loadStrategy(paths: OrchestraPaths, name: string): Promise<Strategy> {
  const builtin = BUILTIN_STRATEGIES[name];
  if (builtin) return builtin;
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(name)) {
    throw new OrchestraError('TASK_INVALID', `strategy "${name}" is not a valid name`, {
      hint: `use ${Object.keys(BUILTIN_STRATEGIES).join(', ')}, or a file .orchestra/strategies/<name>.mjs`,
    });
  }
  const file = join(paths.strategies, `${name}.mjs`);
  try {
    await access(file);
  } catch {
    throw new OrchestraError('TASK_INVALID', `no strategy "${name}"`, {
      hint: `use ${Object.keys(BUILTIN_STRATEGIES).join(', ')}, or write ${file}`,
    });
  }
  let module: { strategy?: Partial<Strategy> };
  try {
    module = (await import(pathToFileURL(file).href)) as { strategy?: Partial<Strategy> };
  } catch (error) {
    throw new OrchestraError(
      'TASK_INVALID',
      `strategy ${file} cannot be loaded: ${(error as Error).message}`,
      {
        hint: 'fix the module; it must be an ES module exporting `strategy`',
        cause: error,
      },
    );
  }
  const strategy = module.strategy;
  if (!strategy || typeof strategy.run !== 'function') {
    throw new OrchestraError(
      'TASK_INVALID',
      `strategy ${file} does not export \`strategy\` with a run(ctx) function`,
      {
        hint: 'export const strategy = { name: "mine", async run(ctx) { ... } }',
      },
    );
  }
  return { name: strategy.name ?? name, run: strategy.run.bind(strategy) };
}
