import { join } from 'node:path';
import type { ProfileConfig } from '../../config/schema.js';

/**
 * What a profile lets the built-in agent change, derived once from the profile: `readOnly`,
 * `editable` globs, the `report` file and `images`. The editor enforces it per call; bash cannot
 * follow a path rule, so any restriction makes it read-only bash (read-only-bash.ts). This is a
 * guard against a model's mistakes, not a sandbox: the worktree mount itself stays as it is.
 */

/** The one file a `report: true` profile may write outside the worktree, in its run directory. */
export const REPORT_FILE_NAME = 'report.md';

/** The editor's rules for one agent run. */
export interface EditPolicy {
  /** Refuse every change in the worktree; `view` only. */
  readOnly: boolean;
  /** Worktree-relative globs (common/path-glob.ts) of the files that may change; undefined: all. */
  editable?: readonly string[];
  /**
   * Absolute path of `<run-dir>/report.md`, the one file outside the worktree the editor may view,
   * create and edit (never through a symlink); undefined when the profile has no `report`.
   */
  reportPath?: string;
  /** `view` of a PNG, JPEG, GIF or WebP returns the image itself (an image block). */
  images: boolean;
}

/**
 * The policy of `profile` for an agent whose run directory is `runDir` (absolute; in a container
 * `/run/orchestra`).
 */
export function editPolicyOf(profile: ProfileConfig, runDir: string): EditPolicy {
  return {
    readOnly: profile.readOnly,
    ...(profile.editable === undefined ? {} : { editable: profile.editable }),
    ...(profile.report ? { reportPath: join(runDir, REPORT_FILE_NAME) } : {}),
    images: profile.images,
  };
}

/** True when bash must be read-only bash: the profile is read-only or limits what may be edited. */
export function bashIsReadOnly(policy: EditPolicy): boolean {
  return policy.readOnly || policy.editable !== undefined;
}
