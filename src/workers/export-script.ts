import { quote } from 'shell-quote';
import { EXPORT_REF } from '../git/attempt-repo.js';

/**
 * The worker's side of taking an attempt's work back (DESIGN.md, "Workers"; the host's side is
 * `importBundle` in git/attempt-repo.ts). Run in the worker, in the attempt's repository, it
 * records everything there — commits, uncommitted and untracked files, ignored ones excepted — as
 * one commit on top of the worker's HEAD, without touching the worker's branch, index or files (a
 * copy of the index takes the `git add -A`), and writes a bundle of that commit to standard
 * output: `refs/orchestra/export`, with the base as its only prerequisite. Standard output is the
 * one channel, so no file a worker could swap is ever read, and a remote worker needs nothing but
 * the command's output. Nothing is written when the work's tree is the base's.
 *
 * Hooks and fsmonitor are switched off through `GIT_CONFIG_*` for the git calls here: inside a
 * container they could only hurt the worker itself, but with `sandbox: local` this runs on the
 * host. The identity comes from the host (its `user.name` and `user.email`), not the worker.
 */

/** The identity export commits are made with. */
export interface ExportIdentity {
  name: string;
  email: string;
}

/**
 * The export step as one `sh -c` command.
 *
 * @param base the attempt's base commit sha
 * @param message the commit message, e.g. `task-03: Add a flag (attempt 1)`
 */
export function exportCommand(base: string, message: string): string {
  if (!/^[0-9a-f]{40,64}$/.test(base)) throw new Error(`not a commit sha: ${base}`);
  const script = [
    'set -e',
    'export GIT_CONFIG_COUNT=2 GIT_CONFIG_KEY_0=core.hooksPath GIT_CONFIG_VALUE_0=/dev/null',
    'export GIT_CONFIG_KEY_1=core.fsmonitor GIT_CONFIG_VALUE_1=false',
    'base="$1"; message="$2"',
    'tmp="$(mktemp -d)"; trap \'rm -rf "$tmp"\' EXIT',
    'index="$(git rev-parse --git-path index)"',
    // -p keeps the index's mtime: git's racy-clean check trusts cached stat data only for files
    // older than the index, so a fresh mtime would hide a same-size edit made in its second.
    'if [ -f "$index" ]; then cp -p "$index" "$tmp/index"; fi',
    'GIT_INDEX_FILE="$tmp/index" git add -A',
    'tree="$(GIT_INDEX_FILE="$tmp/index" git write-tree)"',
    'head="$(git rev-parse --verify --quiet HEAD^{commit} || echo "$base")"',
    'if [ "$(git rev-parse "$head^{tree}")" = "$tree" ]; then commit="$head";',
    'else commit="$(git commit-tree "$tree" -p "$head" -m "$message")"; fi',
    '[ "$commit" = "$base" ] && exit 0',
    `git update-ref ${EXPORT_REF} "$commit"`,
    `git bundle create --quiet - ${EXPORT_REF} "^$base"`,
    `git update-ref -d ${EXPORT_REF}`,
  ].join('\n');
  return quote(['sh', '-c', script, 'orchestra-export', base, message]);
}

/** The environment that gives export commits the host's identity, whatever the worker configured. */
export function exportEnv(identity: ExportIdentity): Record<string, string> {
  return {
    GIT_AUTHOR_NAME: identity.name,
    GIT_AUTHOR_EMAIL: identity.email,
    GIT_COMMITTER_NAME: identity.name,
    GIT_COMMITTER_EMAIL: identity.email,
  };
}
