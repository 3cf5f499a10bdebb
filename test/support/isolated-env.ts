import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { cleanEnv } from '../git/fixtures.js';

/**
 * The environment of an end-to-end test that runs orchestra as a person would: its own HOME,
 * XDG_CONFIG_HOME, socket directory and tmux directory under `base` (created, mode 0700), a plain
 * bash, UTF-8, no API key, and none of the TMUX or ORCHESTRA variables of whatever the suite itself
 * runs inside (a tmux session, an orchestra pane), so those are never the ones the test talks to.
 */
export async function isolatedEnv(base: string, extra: NodeJS.ProcessEnv = {}): Promise<NodeJS.ProcessEnv> {
  const env: NodeJS.ProcessEnv = {
    ...cleanEnv(),
    HOME: join(base, 'home'),
    XDG_CONFIG_HOME: join(base, 'config'),
    ORCHESTRA_TMPDIR: join(base, 'sock'),
    TMUX_TMPDIR: join(base, 'tmux'),
    // Panes run the person's shell; bash with no rc files in the empty HOME keeps prompts plain.
    SHELL: '/bin/bash',
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    PATH: `${dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    ANTHROPIC_API_KEY: '',
    ...extra,
  };
  for (const key of Object.keys(env)) {
    if (key.startsWith('TMUX') && key !== 'TMUX_TMPDIR') delete env[key];
    if (key.startsWith('ORCHESTRA_') && key !== 'ORCHESTRA_TMPDIR') delete env[key];
  }
  for (const dir of ['home', 'config', 'sock', 'tmux'])
    await mkdir(join(base, dir), { recursive: true, mode: 0o700 });
  return env;
}
