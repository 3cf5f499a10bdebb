import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { orchestraPaths } from '../../src/common/paths.js';
import { addAttempt, upsertTask } from '../../src/store/records.js';
import { StateStore } from '../../src/store/store.js';
import { gitOut } from '../git/fixtures.js';

/**
 * Adds to the repository at `root` (on main, with .orchestra/) a done best-of-n task, task-04,
 * whose two attempts' results are commits in the host repository, as the scheduler imports them:
 * a1 (score 4) lost, a2 (score 7) is the result. a2's file carries an escape sequence and a tab,
 * as an agent's file may.
 *
 * @returns the base commit both attempts started from
 */
export async function addTaskWithTwoAttempts(root: string): Promise<{ base: string }> {
  const base = gitOut(root, 'rev-parse', 'HEAD').trim();
  const commitOn = async (branch: string, file: string, text: string) => {
    gitOut(root, 'checkout', '-q', '-b', branch, base);
    await writeFile(join(root, file), text);
    gitOut(root, 'add', file);
    gitOut(root, 'commit', '-q', '-m', branch);
    const commit = gitOut(root, 'rev-parse', 'HEAD').trim();
    gitOut(root, 'checkout', '-q', 'main');
    return commit;
  };
  const a1 = await commitOn('a1', 'one.txt', 'first try\n');
  const a2 = await commitOn('a2', 'two.txt', 'second\x1b]52;c;ZXZpbA==\x07 try\n\tindented\n');
  const store = await StateStore.open(orchestraPaths(root).state);
  try {
    await store.update((draft) => {
      upsertTask(draft, {
        ...{ id: 'task-04', strategy: 'best-of-n', state: 'archived', outcome: 'done' },
        ...{ resultCommit: a2, resultBranch: 'a2', title: 'Add two' },
      });
      const common = {
        taskId: 'task-04',
        worktree: root,
        runDir: root,
        baseCommit: base,
        state: 'archived' as const,
      };
      addAttempt(draft, {
        ...common,
        ...{ id: 'task-04-a1', n: 1, branch: 'a1', commit: a1, checkPassed: true, score: 4 },
        diffStat: { files: 1, insertions: 1, deletions: 0 },
      });
      addAttempt(draft, {
        ...common,
        ...{ id: 'task-04-a2', n: 2, branch: 'a2', commit: a2, checkPassed: true, score: 7 },
        diffStat: { files: 1, insertions: 2, deletions: 0 },
      });
    });
  } finally {
    await store.close();
  }
  return { base };
}
