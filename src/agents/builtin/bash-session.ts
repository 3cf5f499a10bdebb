import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadTailBuffer, MAX_TOOL_OUTPUT_CHARS } from './output-cap.js';

/**
 * The bash tool's persistent shell (Anthropic's `bash_20250124`): one long-lived `bash` whose
 * working directory and variables carry over from command to command, until `restart`.
 *
 * Each command is written to a scratch file and sourced (`. file`), so a syntax error stays inside
 * that command, and the shell then prints a marker with a random nonce and `$?`; output up to the
 * marker is the command's. The shell runs in its own process group (`detached`), so Ctrl-C on the
 * agent's TTY does not reach it and a timeout or interrupt can kill the whole group, children
 * included. After such a kill the session is gone; the next command starts a fresh one.
 */

/** Default time one command may run, ms: long enough for a test suite, short enough to notice a hang. */
export const DEFAULT_BASH_TIMEOUT_MS = 120_000;

/** How a command ended. */
export type BashOutcome = 'exited' | 'timeout' | 'interrupted' | 'session-exited';

/** The result of one command. */
export interface BashResult {
  outcome: BashOutcome;
  /** stdout and stderr interleaved, capped to {@link MAX_TOOL_OUTPUT_CHARS} (head and tail kept). */
  output: string;
  /** `$?` for `exited`, the shell's exit code for `session-exited`, else undefined. */
  exitCode: number | undefined;
  /** Characters the command printed, before capping. */
  totalChars: number;
  /** True when the middle of the output was cut. */
  truncated: boolean;
}

/** Options of a {@link BashSession}. */
export interface BashSessionOptions {
  /** Where each new shell starts: the worktree. */
  cwd: string;
  /** The shell's environment; the caller removes secrets first. */
  env: NodeJS.ProcessEnv;
  /** Time one command may run before its process group is killed, ms. */
  timeoutMs: number;
}

/** Characters of recent stdout searched for the end marker; far longer than the marker itself. */
const MARKER_WINDOW = 4096;

interface Running {
  buffer: HeadTailBuffer;
  recent: string;
  marker: RegExp;
  finish: (outcome: BashOutcome, exitCode: number | undefined) => void;
}

/** A persistent bash shell for the bash tool. Call {@link dispose} when the agent ends. */
export class BashSession {
  private child: ChildProcessWithoutNullStreams | undefined;
  private scratch: string | undefined;
  private running: Running | undefined;
  private count = 0;

  constructor(private readonly options: BashSessionOptions) {}

  /** True while a command runs. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /**
   * Runs `command` in the shell.
   *
   * @param signal aborting it kills the command's process group (outcome `interrupted`)
   * @returns how it ended and its output; never throws for a failing command
   * @throws Error when bash cannot be started or a command is already running
   */
  async run(command: string, signal?: AbortSignal): Promise<BashResult> {
    if (this.running) throw new Error('a bash command is already running');
    const child = await this.ensureStarted();
    const scratch = this.scratch!;
    const file = join(scratch, `command-${++this.count}.sh`);
    await writeFile(file, `${command}\n`, { mode: 0o600 });
    const nonce = randomBytes(8).toString('hex');
    const buffer = new HeadTailBuffer(
      Math.floor(MAX_TOOL_OUTPUT_CHARS / 2),
      Math.ceil(MAX_TOOL_OUTPUT_CHARS / 2),
    );
    try {
      return await new Promise<BashResult>((resolve) => {
        let timer: NodeJS.Timeout | undefined;
        const onAbort = () => this.killGroup('interrupted');
        const finish = (outcome: BashOutcome, exitCode: number | undefined) => {
          if (this.running?.finish !== finish) return;
          this.running = undefined;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          const output = buffer.text();
          resolve({ outcome, output, exitCode, totalChars: buffer.total, truncated: buffer.truncated });
        };
        this.running = {
          buffer,
          recent: '',
          marker: new RegExp(`\\n__ORCHESTRA_DONE_${nonce}__(\\d+)\\n`),
          finish,
        };
        timer = setTimeout(() => this.killGroup('timeout'), this.options.timeoutMs);
        if (signal?.aborted) {
          onAbort();
          return;
        }
        signal?.addEventListener('abort', onAbort, { once: true });
        const quoted = `'${file.replace(/'/g, `'\\''`)}'`;
        child.stdin.write(`{ . ${quoted}; } </dev/null; printf '\\n__ORCHESTRA_DONE_${nonce}__%s\\n' "$?"\n`);
      });
    } finally {
      await unlink(file).catch(() => {
        // The scratch directory is removed on dispose anyway.
      });
    }
  }

  /** Ends the current shell (killing any running command); the next {@link run} starts a new one. */
  restart(): void {
    this.killGroup('interrupted');
    this.child = undefined;
  }

  /** Kills the shell and its children and removes the scratch directory. */
  async dispose(): Promise<void> {
    this.restart();
    if (this.scratch !== undefined) {
      await rm(this.scratch, { recursive: true, force: true });
      this.scratch = undefined;
    }
  }

  private async ensureStarted(): Promise<ChildProcessWithoutNullStreams> {
    this.scratch ??= await mkdtemp(join(tmpdir(), 'orchestra-bash-'));
    if (this.child !== undefined) return this.child;
    const child = spawn('bash', ['--noprofile', '--norc'], {
      cwd: this.options.cwd,
      env: this.options.env,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => this.onStdout(chunk));
    // Everything goes to stdout after `exec 2>&1`; this catches what bash says before that.
    child.stderr.on('data', (chunk: string) => this.running?.buffer.push(chunk));
    child.stdin.on('error', () => {
      // EPIPE after the shell died; its exit event reports that.
    });
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      this.running?.finish('session-exited', code ?? (signal ? 128 : undefined));
    });
    // Merged streams keep stderr in order with stdout, which is what a person reading a log expects.
    child.stdin.write('exec 2>&1\n');
    this.child = child;
    return child;
  }

  private onStdout(chunk: string): void {
    const running = this.running;
    if (!running) return;
    running.buffer.push(chunk);
    running.recent = (running.recent + chunk).slice(-MARKER_WINDOW);
    const match = running.marker.exec(running.recent);
    if (!match) return;
    running.buffer.dropLast(running.recent.length - match.index);
    running.finish('exited', Number(match[1]));
  }

  /** Kills the shell's process group and ends the running command with `outcome`. */
  private killGroup(outcome: BashOutcome): void {
    const child = this.child;
    this.child = undefined;
    if (child?.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // ESRCH: the group is already gone.
      }
    }
    this.running?.finish(outcome, undefined);
  }
}
