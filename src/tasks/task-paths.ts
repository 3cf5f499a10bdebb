import { isOrchestraError, OrchestraError } from '../common/errors.js';
import { confinePath } from '../common/paths.js';
import type { TaskFile } from './task-file.js';

/**
 * Confines every "Files to touch" entry of a task to the repository (DESIGN.md, "Security").
 * Kept apart from the parser because it reads the file system (symlinks are resolved).
 *
 * @param task a parsed task
 * @param root repository top level (absolute)
 * @returns the resolved absolute paths, in the order of `task.files`
 * @throws OrchestraError PATH_ESCAPE naming the task and the entry, for an absolute path, a `..`
 *   escape or a symlink that leads outside the repository; the queue rejects such a file
 */
export function validateTaskPaths(task: Pick<TaskFile, 'id' | 'files'>, root: string): string[] {
  return task.files.map((file) => {
    try {
      return confinePath(root, file);
    } catch (error) {
      if (!isOrchestraError(error, 'PATH_ESCAPE')) throw error;
      throw new OrchestraError('PATH_ESCAPE', `${task.id}: Files to touch: ${error.message}`, {
        hint: error.hint ?? 'paths in task files must stay inside the repository',
        cause: error,
      });
    }
  });
}
