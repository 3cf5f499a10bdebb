import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostIdentity, type ImportedWork, importBundle } from '../../src/git/attempt-repo.js';
import { exportCommand, exportEnv } from '../../src/workers/export-script.js';
import { LocalShell } from '../../src/workers/worker-shell.js';

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

/**
 * Takes an attempt's work back the way the attempt runner does for `sandbox: local`: the export
 * step in a local worker shell (its bundle on standard output), then `importBundle` onto the
 * attempt's branch in the host repository.
 *
 * @throws Error when the export step fails
 */
export async function finishAttempt(
  root: string,
  attempt: { path: string; branch: string; base: string; attemptId: string },
  message: string,
): Promise<ImportedWork> {
  const shell = new LocalShell(attempt.path, cleanEnv());
  const result = await shell.run(exportCommand(attempt.base, message), {
    timeoutMs: 60_000,
    captureStdout: true,
    env: exportEnv(await hostIdentity(root)),
  });
  if (result.exitCode !== 0) throw new Error(`export failed with exit ${result.exitCode}`);
  return importBundle({
    root,
    bundle: result.stdout ?? Buffer.alloc(0),
    branch: attempt.branch,
    base: attempt.base,
    attemptId: attempt.attemptId,
  });
}
