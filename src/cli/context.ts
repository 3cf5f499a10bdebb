import { access } from 'node:fs/promises';
import { OrchestraError } from '../common/errors.js';
import { type OrchestraPaths, orchestraPaths } from '../common/paths.js';
import { findRepoRoot } from '../git/repo.js';

/** The repository a command works on, and its `.orchestra/` layout. */
export interface RepoContext {
  root: string;
  paths: OrchestraPaths;
}

/**
 * Finds the repository around `cwd` and, unless `allowUninitialized`, insists that `orchestra init`
 * has been run there.
 *
 * @throws OrchestraError NOT_A_REPO outside a git repository, NOT_INITIALIZED without `.orchestra/`
 */
export async function repoContext(cwd: string, allowUninitialized = false): Promise<RepoContext> {
  const root = await findRepoRoot(cwd);
  const paths = orchestraPaths(root);
  if (!allowUninitialized) {
    try {
      await access(paths.tasks);
    } catch {
      throw new OrchestraError('NOT_INITIALIZED', `orchestra is not set up in ${root}`, {
        hint: 'run `orchestra init` in the repository first',
      });
    }
  }
  return { root, paths };
}
