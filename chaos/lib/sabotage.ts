import { spawn } from 'node:child_process';
import { copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { State } from '../../src/store/schema.js';
import { INVARIANT_KINDS, type InvariantKind } from './invariants.js';
import { MARKER_VAR } from './procs.js';
import type { World } from './world.js';

/**
 * Deliberately broken conditions, to see each invariant check fire (`--sabotage kind,...`): a
 * check that cannot fail is a defect. Each one damages the world the way the product bug it
 * stands for would, at the point of the run where that bug would show.
 */

/**
 * The invariants this file can break on purpose: every one but those it has no sabotage for yet
 * (a wrong reason, an orphaned attempt, a leftover container).
 */
const NOT_SABOTAGED: ReadonlySet<InvariantKind> = new Set([
  'wrong-reason',
  'orphaned-attempt',
  'leftover-container',
]);
export const SABOTAGE_KINDS: readonly InvariantKind[] = INVARIANT_KINDS.filter((k) => !NOT_SABOTAGED.has(k));

/** During the run: kill the server as if it crashed (not marked expected). */
export async function sabotageDuringRun(world: World, kinds: Set<InvariantKind>): Promise<void> {
  if (kinds.has('server-crash')) {
    setTimeout(() => {
      const server = world.current;
      try {
        if (server) process.kill(server.pid, 'SIGKILL');
      } catch {}
    }, 4000);
  }
  if (kinds.has('harness')) {
    // A request no scenario answers, as a script that ran out of turns leaves.
    await fetch(`${world.model.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'x' },
      body: JSON.stringify({ model: 'm', max_tokens: 5, messages: [], system: 'nobody' }),
    }).catch(() => {});
  }
}

/** Before the end-of-run process checks (the server is still up). */
export function sabotageBeforeEnd(world: World, kinds: Set<InvariantKind>): () => void {
  const undo: Array<() => void> = [];
  if (kinds.has('leftover-process')) {
    const child = spawn('sleep', ['60'], {
      env: {
        ...world.env,
        [MARKER_VAR]: world.runId,
        ORCHESTRA_RUN_DIR: join(world.paths.runs, 'task-01-a1'),
      },
      stdio: 'ignore',
      detached: true,
    });
    child.unref();
  }
  if (kinds.has('server-unresponsive') && world.current) {
    const pid = world.current.pid;
    process.kill(pid, 'SIGSTOP');
    undo.push(() => {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {}
    });
  }
  return () => {
    for (const u of undo) u();
  };
}

/** After kill-server, before the checks: damage the files on disk. */
export function sabotageAfterEnd(world: World, kinds: Set<InvariantKind>): void {
  const statePath = world.paths.state;
  const readState = () => JSON.parse(readFileSync(statePath, 'utf8')) as State;
  const writeState = (s: State) => writeFileSync(statePath, JSON.stringify(s));
  if (kinds.has('tool-twice')) {
    const first = world.effectLines()[0];
    if (first && world.effects.kind === 'file')
      writeFileSync(world.effects.path, `${first}\n`, { flag: 'a' });
  }
  if (kinds.has('archive')) {
    const file = world.queueFiles('done')[0] ?? world.queueFiles('failed')[0];
    if (file) {
      const from = world.queueFiles('done').includes(file) ? world.paths.done : world.paths.failed;
      const to = from === world.paths.done ? world.paths.failed : world.paths.done;
      copyFileSync(join(from, file), join(to, file));
    }
  }
  if (kinds.has('base-history')) {
    const tree = world.git('rev-parse', 'main^{tree}');
    const commit = world.git('commit-tree', tree, '-p', 'main', '-m', 'rogue commit');
    world.git('update-ref', 'refs/heads/main', commit);
  }
  if (kinds.has('done-invalid')) {
    const s = readState();
    const task = Object.values(s.tasks).find((t) => t.archivedAs?.startsWith('done/'));
    if (task) {
      task.resultCommit = [...world.originals][0];
      writeState(s);
    }
  }
  if (kinds.has('wrong-outcome')) {
    const s = readState();
    const task = Object.values(s.tasks).find((t) => t.archivedAs?.startsWith('done/'));
    if (task?.archivedAs) {
      const name = task.archivedAs.slice('done/'.length);
      renameSync(join(world.paths.done, name), join(world.paths.failed, name));
      task.archivedAs = `failed/${name}`;
      writeState(s);
    }
  }
  const runFile = (attempt: string, name: string) => join(world.paths.runs, attempt, name);
  if (kinds.has('succeeded-without-complete') || kinds.has('gave-up-early')) {
    const s = readState();
    const kept = Object.values(s.attempts).filter((a) => a.checkPassed && a.commit);
    const targets = [
      kinds.has('succeeded-without-complete') ? kept[0] : undefined,
      kinds.has('gave-up-early') ? (kept[1] ?? kept[0]) : undefined,
    ];
    targets.forEach((a, i) => {
      if (!a) return;
      const summary =
        i === 0 ? 'stopped by the human' : 'model API error: 529 overloaded: chaos (after 2 attempts)';
      const cp = JSON.parse(readFileSync(runFile(a.id, 'conversation.json'), 'utf8'));
      cp.state = 'error';
      cp.summary = summary;
      writeFileSync(runFile(a.id, 'conversation.json'), JSON.stringify(cp));
      writeFileSync(
        runFile(a.id, 'events.jsonl'),
        `${JSON.stringify({ ts: new Date().toISOString(), type: 'status', state: 'error', summary })}\n`,
        { flag: 'a' },
      );
    });
  }
}
