import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Real git repositories in temp dirs for the git tests. Every git call here runs with the ambient
 * `GIT_*` variables removed, so a `GIT_DIR` leaking from a hook cannot point the fixtures elsewhere.
 */

/** process.env without `GIT_*`, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.toUpperCase().startsWith('GIT_')) env[key] = value;
  }
  return { ...env, ...extra };
}

/** Runs git in `cwd` and returns its stdout, trimmed; throws on a non-zero exit. */
export function gitOut(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    env: cleanEnv(),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  })
    .toString()
    .trim();
}

/** The `.orchestra/.gitignore` that `orchestra init` writes (DESIGN.md, "On disk"). */
export const ORCHESTRA_GITIGNORE = '*\n!.gitignore\n!orchestra.json\n';

/** An empty temp dir, realpath'd; remove it with `rm(dir, { recursive: true, force: true })`. */
export async function tempDir(): Promise<string> {
  return realpath(await mkdtemp(join(tmpdir(), 'orchestra-')));
}

/**
 * A repository on `main` with one commit holding README.md and, unless `initialized` is false,
 * `.orchestra/.gitignore` as `orchestra init` writes it. user.name/email are set in the repo's own
 * config.
 */
export async function makeRepo(options: { initialized?: boolean } = {}): Promise<string> {
  const root = await tempDir();
  gitOut(root, 'init', '--quiet', '-b', 'main');
  gitOut(root, 'config', 'user.name', 'Test User');
  gitOut(root, 'config', 'user.email', 'test@example.com');
  await writeFile(join(root, 'README.md'), 'hello\nworld\n');
  if (options.initialized !== false) {
    await mkdir(join(root, '.orchestra'));
    await writeFile(join(root, '.orchestra', '.gitignore'), ORCHESTRA_GITIGNORE);
  }
  gitOut(root, 'add', '-A');
  gitOut(root, 'commit', '--quiet', '-m', 'initial');
  return root;
}

/** Removes a temp dir made by {@link tempDir} or {@link makeRepo}. */
export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
