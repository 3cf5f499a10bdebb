import { posix } from 'node:path';

/**
 * Why `path` cannot be a `copy` entry, or undefined when it can: a path relative to the
 * repository's top level, inside it (no `..`, not absolute), and not in `.git` or `.orchestra`.
 * Pure: the config check uses it (`config validate` refuses a path outside the repository).
 */
export function copyPathProblem(path: string): string | undefined {
  if (path.includes('\0')) return 'contains a NUL byte';
  if (path.startsWith('/') || /^[A-Za-z]:[\\/]/.test(path))
    return 'is absolute: copy takes paths inside the repository';
  const normal = posix.normalize(path.replace(/\\/g, '/'));
  if (normal === '..' || normal.startsWith('../')) return 'leaves the repository';
  if (normal === '.' || normal === '') return 'names the repository itself';
  const first = normal.split('/')[0];
  if (first === '.git' || first === '.orchestra') return `is inside ${first}/`;
  return undefined;
}
