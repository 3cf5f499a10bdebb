import { posix } from 'node:path';

/**
 * Why `path` cannot be a `copy` entry, or undefined when it can: a path relative to the
 * repository's top level, inside it (no `..`, not absolute), and not in `.git` or `.orchestra`.
 * Pure: the config check uses it (`config validate` refuses a path outside the repository).
 */
export function copyPathProblem(path: string): string | undefined {
  if (path.includes('\0')) return 'contains a NUL byte';
  // Backslashes are separators here too (a config written on Windows), and drive letters absolute.
  const slashed = path.replace(/\\/g, '/');
  if (slashed.startsWith('/') || /^[A-Za-z]:/.test(slashed))
    return 'is absolute: copy takes paths inside the repository';
  const normal = posix.normalize(slashed);
  if (normal === '..' || normal.startsWith('../')) return 'leaves the repository';
  if (normal === '.' || normal === '') return 'names the repository itself';
  // At any depth and in any case (a case-insensitive file system reads .GIT as .git).
  const inside = normal.split('/').find((part) => ['.git', '.orchestra'].includes(part.toLowerCase()));
  if (inside) return `is inside ${inside.toLowerCase()}/`;
  return undefined;
}
