import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Why the built `dist/` cannot stand for `src/`, for the tools that run it (`npm run bench`,
 * `npm run chaos`): missing, or older than the newest `.ts` under `src/`. Undefined when it is
 * current.
 *
 * @param repoRoot the repository's root folder
 * @param runs what runs dist/, for the message (`the servers and the CLI`)
 */
export function distProblem(repoRoot: string, runs: string): string | undefined {
  const newest = (dir: string, ext: string): number => {
    let max = 0;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) max = Math.max(max, newest(path, ext));
      else if (entry.name.endsWith(ext)) max = Math.max(max, statSync(path).mtimeMs);
    }
    return max;
  };
  try {
    const dist = newest(join(repoRoot, 'dist'), '.js');
    if (dist === 0) return 'dist/ is missing: run `npm run build` first';
    if (newest(join(repoRoot, 'src'), '.ts') > dist)
      return `dist/ is older than src/: ${runs} run dist/ (\`npm run build\`)`;
  } catch {
    return 'dist/ is missing: run `npm run build` first';
  }
  return undefined;
}
