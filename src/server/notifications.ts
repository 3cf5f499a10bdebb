import { spawn } from 'node:child_process';
import { parseAttemptId } from '../common/ids.js';
import { printable } from '../common/printable.js';
import type { Logger } from '../log/logger.js';
import type { Notice } from '../protocol/messages.js';

/** Agent states a person is told about: the agent waits for them, or it has ended. */
export const NOTIFY_STATES: ReadonlySet<string> = new Set(['waiting', 'done', 'error']);

/** The most characters of an agent's summary a notification carries. */
const SUMMARY_CHARS = 200;

/** How long a `notify` command may run before it is killed, ms. */
const NOTIFY_TIMEOUT_MS = 10_000;

/**
 * How long a state must hold before it is told, ms: an agent's hooks firing back to back (waiting,
 * then working again) are one change, and a file of a thousand flips is read in one go.
 */
export const NOTICE_SETTLE_MS = 300;

/** Fewest ms between two notices of one pane: an agent flipping its state is told this often at most. */
export const NOTICE_MIN_INTERVAL_MS = 5_000;

/**
 * The notice for a state an agent reported, or undefined when it is not one a person is told
 * about. `summary` is the agent's text (hostile input): made printable and cut short.
 */
export function noticeFor(
  pane: { id: number; name: string; attemptId?: string | undefined },
  state: string,
  summary: unknown,
): Notice | undefined {
  if (!NOTIFY_STATES.has(state)) return undefined;
  const text = typeof summary === 'string' ? [...printable(summary)].slice(0, SUMMARY_CHARS).join('') : '';
  const task = pane.attemptId ? parseAttemptId(pane.attemptId)?.taskId : undefined;
  return {
    pane: pane.id,
    name: printable(pane.name),
    state,
    summary: text,
    ...(pane.attemptId ? { attempt: pane.attemptId } : {}),
    ...(task ? { task } : {}),
  };
}

/**
 * The config's `notify` argv for `notice`: an argument that is exactly `{task}`, `{attempt}`,
 * `{state}` or `{summary}` becomes that value ('' when the pane has no task). Nothing is replaced
 * inside a longer argument — the config refuses one — so the agent's words are one argument of
 * their own, never part of a script an interpreter (`sh -c`, `osascript -e`) would run.
 */
export function notifyArgv(template: readonly string[], notice: Notice): string[] {
  const values = new Map([
    ['{task}', notice.task ?? ''],
    ['{attempt}', notice.attempt ?? ''],
    ['{state}', notice.state],
    ['{summary}', notice.summary],
  ]);
  return template.map((arg) => values.get(arg) ?? arg);
}

/**
 * Paces notices (DESIGN.md's agent states are the agent's to write, as often as it likes): a pane's
 * notice is told once its state has held {@link NOTICE_SETTLE_MS}, and at most every
 * {@link NOTICE_MIN_INTERVAL_MS}; a later state replaces one not yet told, and a state nobody is
 * told about (working) withdraws it.
 */
export class NoticeGate {
  private readonly panes = new Map<number, { pending?: Notice; timer?: NodeJS.Timeout; lastAt: number }>();

  /** @param tell called with each notice that is to reach the person */
  constructor(
    private readonly tell: (notice: Notice) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Pane `paneId`'s agent changed state; `notice` is what a person would be told (undefined: nothing). */
  offer(paneId: number, notice: Notice | undefined): void {
    let entry = this.panes.get(paneId);
    if (!entry) {
      entry = { lastAt: Number.NEGATIVE_INFINITY };
      this.panes.set(paneId, entry);
    }
    if (notice) entry.pending = notice;
    else delete entry.pending;
    if (!entry.pending) {
      clearTimeout(entry.timer);
      delete entry.timer;
      return;
    }
    if (entry.timer) return;
    const pane = entry;
    const wait = Math.max(NOTICE_SETTLE_MS, pane.lastAt + NOTICE_MIN_INTERVAL_MS - this.now());
    pane.timer = setTimeout(() => {
      delete pane.timer;
      const told = pane.pending;
      delete pane.pending;
      if (!told) return;
      pane.lastAt = this.now();
      this.tell(told);
    }, wait);
    pane.timer.unref();
  }

  /** The pane is gone: nothing more is told of it. */
  forget(paneId: number): void {
    clearTimeout(this.panes.get(paneId)?.timer);
    this.panes.delete(paneId);
  }
}

/** Notices waiting for the `notify` command while it runs: the latest of each pane, this many panes at most. */
const NOTIFY_QUEUE_MAX = 16;

/**
 * The config's `notify` command, run for each notice with the values as arguments (and as
 * ORCHESTRA_TASK, ORCHESTRA_ATTEMPT, ORCHESTRA_STATE, ORCHESTRA_SUMMARY in its environment), one
 * at a time: notices that come while it runs wait (the latest of each pane), and run after it. A
 * command that fails or runs longer than 10 s is logged (and killed), never fatal.
 */
export class NotifyCommand {
  private running = false;
  private readonly queue = new Map<number, Notice>();

  constructor(
    private readonly template: readonly string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly logger?: Logger,
  ) {}

  run(notice: Notice): void {
    if (this.running) {
      this.queue.delete(notice.pane);
      if (this.queue.size >= NOTIFY_QUEUE_MAX) {
        this.logger?.warn(
          { pane: notice.pane },
          'too many notices wait for the notify command: one is dropped',
        );
        return;
      }
      this.queue.set(notice.pane, notice);
      return;
    }
    const [file, ...args] = notifyArgv(this.template, notice);
    if (!file) return;
    let ended = false;
    const done = () => {
      // 'error' and 'exit' can both come for one child: it ends once.
      if (ended) return;
      ended = true;
      this.running = false;
      const next = this.queue.values().next();
      if (!next.done) {
        this.queue.delete(next.value.pane);
        this.run(next.value);
      }
    };
    this.running = true;
    try {
      const child = spawn(file, args, {
        stdio: 'ignore',
        timeout: NOTIFY_TIMEOUT_MS,
        killSignal: 'SIGKILL',
        env: {
          ...this.env,
          ORCHESTRA_TASK: notice.task ?? '',
          ORCHESTRA_ATTEMPT: notice.attempt ?? '',
          ORCHESTRA_STATE: notice.state,
          ORCHESTRA_SUMMARY: notice.summary,
        },
      });
      child.on('error', (error) => {
        this.logger?.warn({ err: error, command: file }, 'the notify command could not start');
        done();
      });
      child.on('exit', (code, signal) => {
        if (code !== 0) this.logger?.warn({ command: file, code, signal }, 'the notify command failed');
        done();
      });
    } catch (error) {
      this.logger?.warn({ err: error, command: file }, 'the notify command could not start');
      done();
    }
  }
}
