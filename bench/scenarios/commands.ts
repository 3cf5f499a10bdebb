import { spawn } from 'node:child_process';
import type { BenchContext } from '../lib/context.js';
import { ORCHESTRA_BIN, OrchestraServer } from '../lib/orchestra-server.js';
import { median, percentile, round } from '../lib/stats.js';
import { TmuxServer } from '../lib/tmux-server.js';
import { pollUntil, sleep } from '../lib/waiting.js';

/** Samples per command and system for each benchmark round (these are fast). */
export const SAMPLES_PER_ROUND = 4;

/** One CLI process may take this long before the scenario fails, ms. */
const COMMAND_TIMEOUT_MS = 15_000;

const COLS = 200;
const ROWS = 60;

/** The pane's text: what `capture-pane -p` prints and what `send-keys x` types into. */
const PANE_TEXT_LINES = 40;

export interface CommandRow {
  /** Short name: `ls`, `capture-pane -p`, `send-keys`. */
  command: string;
  /** The orchestra command line run (without `node`). */
  orchestraArgv: string[];
  /** The tmux command line run. */
  tmuxArgv: string[];
  /** Wall time of each CLI process, spawn to exit, ms, in the order run. */
  orchestraMs: number[];
  tmuxMs: number[];
  orchestraMedianMs: number | null;
  orchestraP90Ms: number | null;
  tmuxMedianMs: number | null;
  tmuxP90Ms: number | null;
  /** orchestra median / tmux median. */
  ratio: number | null;
  /** The floor row: Node and tmux starting and doing nothing, no target of its own. */
  floor?: boolean;
  error?: string;
}

/**
 * Runs `file args` to its exit and returns its wall time (ms, from just before spawn to the exit
 * event) and its standard output.
 * @throws Error when it exits non-zero or takes longer than 15 s
 */
function timeProcess(
  file: string,
  args: string[],
  ctx: BenchContext,
): Promise<{ ms: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(file, args, { cwd: ctx.dir, env: ctx.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let exitedAt = 0;
    let code: number | null = null;
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), COMMAND_TIMEOUT_MS);
    child.on('exit', (exitCode) => {
      exitedAt = performance.now();
      code = exitCode;
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    // 'close' comes after 'exit', once the output pipes are drained too.
    child.on('close', () => {
      clearTimeout(timer);
      const err = Buffer.concat(stderr).toString('utf8').trim();
      if (code !== 0) reject(new Error(`${[file, ...args].join(' ')} exited ${code}: ${err}`));
      else resolve({ ms: exitedAt - t0, stdout: Buffer.concat(stdout).toString('utf8') });
    });
  });
}

interface Command {
  name: string;
  orchestra: string[];
  tmux: string[];
  /** Checks one run's output; throws when it is not what the command should print. */
  check(stdout: string, system: 'orchestra' | 'tmux'): void;
  /** Not an orchestra command: `node -e 0` (what any Node CLI pays to start), against `tmux -V`. */
  floor?: boolean;
}

/** A pane that shows a known text and then echoes what is typed (`cat` on a cooked tty). */
function paneCommand(): string[] {
  return ['sh', '-c', `seq -f 'line %g' 1 ${PANE_TEXT_LINES}; exec cat`];
}

/**
 * Scenario: wall time of one-shot CLI commands against a running session (one pane), as a script
 * or a person's shell runs them: `orchestra ls -t S`, `capture-pane -p -t S:0`, `send-keys -t S:0 x`
 * against `tmux ls`, `tmux capture-pane -p`, `tmux send-keys`. Each round runs every command
 * `SAMPLES_PER_ROUND` times, orchestra then tmux in turn; one warm-up round (page cache) is not
 * counted. Reports median and p90 per command and system, ms.
 */
export async function runCommands(ctx: BenchContext, options: { rounds: number }): Promise<CommandRow[]> {
  const server = await OrchestraServer.startIn(ctx, 'cmd');
  const tmux = new TmuxServer({ socket: ctx.name('cmd'), dir: ctx.dir, env: ctx.env, cleanup: ctx.cleanup });
  try {
    const session = server.session;
    const pane = await server.newPane(paneCommand(), 'cmd');
    await tmux.start('cmd', COLS, ROWS, paneCommand());
    const lastLine = `line ${PANE_TEXT_LINES}`;
    await pollUntil(async () => (await server.capture(pane.id)).includes(lastLine), 10_000, 'orchestra pane');
    await pollUntil(async () => (await tmux.capture('cmd:0')).includes(lastLine), 10_000, 'tmux pane');
    const panes = await server.request<Array<{ index: number }>>({ cmd: 'list-panes' });
    const target = `${session}:${panes[0]?.index ?? 0}`;
    const node = (args: string[]) => [...ctx.nodeFlags(`${session}-cli`), ORCHESTRA_BIN, ...args];
    const tmuxBase = ['-L', tmux.options.socket, '-f', '/dev/null'];
    const commands: Command[] = [
      {
        // The floor under every orchestra command: Node starting and exiting (issue 12's target
        // assumed ~50 ms of it), measured in the same rounds.
        name: 'node -e 0',
        orchestra: [...ctx.nodeFlags(`${session}-floor`), '-e', '0'],
        tmux: ['-V'],
        check: () => {},
        floor: true,
      },
      {
        name: 'ls',
        orchestra: node(['ls', '-t', session]),
        tmux: [...tmuxBase, 'ls'],
        check: (out, system) => {
          if (!out.includes(system === 'orchestra' ? 'cmd' : 'cmd:')) throw new Error(`${system} ls: ${out}`);
        },
      },
      {
        name: 'capture-pane -p',
        orchestra: node(['capture-pane', '-p', '-t', target]),
        tmux: [...tmuxBase, 'capture-pane', '-p', '-t', 'cmd:0'],
        check: (out, system) => {
          if (!out.includes(lastLine)) throw new Error(`${system} capture-pane printed no "${lastLine}"`);
        },
      },
      {
        name: 'send-keys',
        orchestra: node(['send-keys', '-t', target, 'x']),
        tmux: [...tmuxBase, 'send-keys', '-t', 'cmd:0', 'x'],
        check: () => {},
      },
    ];
    const samples = new Map<string, { orchestra: number[]; tmux: number[] }>(
      commands.map((c) => [c.name, { orchestra: [], tmux: [] }]),
    );
    for (let round = 0; round <= options.rounds; round++) {
      for (let i = 0; i < SAMPLES_PER_ROUND; i++) {
        for (const command of commands) {
          const o = await timeProcess(process.execPath, command.orchestra, ctx);
          command.check(o.stdout, 'orchestra');
          const t = await timeProcess('tmux', command.tmux, ctx);
          command.check(t.stdout, 'tmux');
          // Round 0 warms the page cache and is not counted.
          if (round > 0) {
            samples.get(command.name)!.orchestra.push(o.ms);
            samples.get(command.name)!.tmux.push(t.ms);
          }
        }
      }
      if (round > 0) {
        const line = commands
          .map((c) => {
            const s = samples.get(c.name)!;
            return `${c.name} ${median(s.orchestra).toFixed(1)}/${median(s.tmux).toFixed(1)}`;
          })
          .join(', ');
        ctx.log(`  round ${round}: median so far, orchestra/tmux ms: ${line}`);
      }
    }
    // Every send-keys typed an x into the pane, which cat echoes.
    await sleep(200);
    const sent = (options.rounds + 1) * SAMPLES_PER_ROUND;
    for (const [system, text] of [
      ['orchestra', await server.capture(pane.id)],
      ['tmux', await tmux.capture('cmd:0')],
    ] as const) {
      const typed = (text.replace(/\n/g, '').match(/x/g) ?? []).length;
      if (typed < sent) throw new Error(`${system}: the pane shows ${typed} of the ${sent} keys sent`);
    }
    return commands.map((c) => {
      const s = samples.get(c.name)!;
      const orchestraMedian = median(s.orchestra);
      const tmuxMedian = median(s.tmux);
      return {
        command: c.name,
        orchestraArgv: c.floor
          ? ['node', ...c.orchestra]
          : ['orchestra', ...c.orchestra.slice(c.orchestra.indexOf(ORCHESTRA_BIN) + 1)],
        tmuxArgv: ['tmux', ...c.tmux],
        orchestraMs: s.orchestra.map((v) => round(v, 1) ?? 0),
        tmuxMs: s.tmux.map((v) => round(v, 1) ?? 0),
        orchestraMedianMs: round(orchestraMedian, 1),
        orchestraP90Ms: round(percentile(s.orchestra, 90), 1),
        tmuxMedianMs: round(tmuxMedian, 1),
        tmuxP90Ms: round(percentile(s.tmux, 90), 1),
        ratio: round(orchestraMedian / tmuxMedian, 2),
        ...(c.floor ? { floor: true } : {}),
      };
    });
  } finally {
    await tmux.stop();
    await server.stop();
  }
}
