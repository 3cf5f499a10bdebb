import { setFlagsFromString } from 'node:v8';

/**
 * V8's default `--semi-space-growth-factor` (flag-definitions.h): new space doubles each time
 * it grows, from 1 MiB per semi-space up to 16 MiB.
 */
const V8_DEFAULT_GROWTH_FACTOR = 2;

/** Whether new space is held (set by {@link holdYoungGeneration}, cleared on release). */
let held = false;

/**
 * Lets V8's young generation (new space) grow again after {@link holdYoungGeneration}. Called
 * once a long-lived process has work: the session server when its first pane starts, the TUI once
 * its screen is up. From then on a flood of pane output may grow new space as V8 likes, since a
 * small one promotes the emulator's lines early and costs more CPU than the memory is worth. A
 * server released right after it listened grew new space again under a loaded machine while it
 * still idled (the rest of its start-up ran released). Does nothing when not held.
 */
export function releaseYoungGeneration(): void {
  if (!held) return;
  held = false;
  setFlagsFromString(`--semi-space-growth-factor=${V8_DEFAULT_GROWTH_FACTOR}`);
}

/** The commands whose process lives on (`attach`'s alias `a` included): the only ones held. */
const LONG_LIVED_COMMANDS: ReadonlySet<string> = new Set(['server', 'tui', 'attach', 'a']);

/**
 * Keeps new space at the 1 MiB per semi-space it starts with, for a process that will idle for
 * days: the session server and the TUI. Starting is a burst of allocation (the command's chunks,
 * the config, the first screens) that grows new space to 8 MiB, which V8 gives back only under
 * memory pressure (issue 12, `npm run bench` memory). Other commands (the local agent, the model
 * server, a merge, short commands) are not held: for a busy process a small new space costs CPU.
 * `bin/orchestra` calls this before `main()` loads the command's code (the bundle's entry chunk
 * is small: the argument parser); the server releases it with its first pane, the TUI once its
 * screen is up.
 *
 * The growth factor is read each time new space would grow (`SemiSpaceNewSpace::Grow` in V8's
 * `heap/new-spaces.cc`), so setting it at run time works; `--max-semi-space-size` is read once,
 * when the heap is set up.
 *
 * @param argv as `process.argv` (node, script, args...): its first word that is not an option
 *   names the command
 * @returns whether it held new space
 */
export function holdYoungGeneration(argv: readonly string[]): boolean {
  const command = argv.slice(2).find((word) => !word.startsWith('-'));
  if (command === undefined || !LONG_LIVED_COMMANDS.has(command)) return false;
  setFlagsFromString('--semi-space-growth-factor=1');
  held = true;
  return true;
}
