/** The `:` prompt (`prefix :`): a line the person types, run as an orchestra command. */
export interface PromptState {
  kind: 'prompt';
  text: string;
}

/**
 * One key at the prompt: edits the line (Backspace, C-u, printable keys) or ends it.
 * @returns `{ done: true, line }` for Enter (`line` trimmed, undefined when blank), `{ done: true }`
 *   for Escape or C-c, `{ done: false }` while the prompt stays open
 */
export function promptKey(mode: PromptState, token: string): { done: boolean; line?: string } {
  if (token === '\r') {
    const line = mode.text.trim();
    return line ? { done: true, line } : { done: true };
  }
  if (token === '\x1b' || token === '\x03') return { done: true };
  if (token === '\x7f' || token === '\b') {
    mode.text = [...mode.text].slice(0, -1).join('');
  } else if (token === '\x15') {
    mode.text = '';
  } else if (!token.startsWith('\x1b') && token >= ' ') {
    mode.text += token;
  }
  return { done: false };
}

/** What running a prompt line needs of the TUI. */
export interface PromptHost {
  session: string;
  env: NodeJS.ProcessEnv;
  /** The CLI, handed in (see `TuiOptions.runCommand`): the client does not import it. */
  runCommand?:
    | ((argv: string[], env: NodeJS.ProcessEnv) => Promise<{ code: number; lines: string[] }>)
    | undefined;
  flash(text: string): void;
  showOverlay(label: string, content: string): void;
}

/**
 * Runs a line typed at the `:` prompt as an orchestra command against this session, in-process,
 * with the same parser as the CLI (`new-pane -n logs -- tail -f x.log`, `select-layout tiled`...):
 * one line of output goes to the status bar, more to an overlay.
 */
export async function runCommandLine(host: PromptHost, line: string): Promise<void> {
  // The default export: a bundled CommonJS package has no named exports on a dynamic import.
  const { default: shellQuote } = await import('shell-quote');
  const parse = shellQuote.parse;
  const argv = parse(line).filter((a): a is string => typeof a === 'string');
  if (argv[0] === 'orchestra') argv.shift();
  if (['tui', 'attach', 'server'].includes(argv[0] ?? '')) {
    host.flash(`"${argv[0]}" cannot run inside the TUI`);
    return;
  }
  if (!host.runCommand) {
    host.flash('commands cannot run from this client');
    return;
  }
  const { code, lines: out } = await host.runCommand(argv, { ...host.env, ORCHESTRA_SESSION: host.session });
  if (out.length > 1) host.showOverlay(`:${line}`, out.join('\n'));
  else host.flash(out[0] ?? (code === 0 ? 'ok' : `exit ${code}`));
}
