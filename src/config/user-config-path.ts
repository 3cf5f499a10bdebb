import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/**
 * The user's configuration directory: `$XDG_CONFIG_HOME`, or `~/.config` when XDG_CONFIG_HOME is
 * unset or relative (the XDG spec says a relative value is to be ignored). systemd's user manager
 * reads units from `systemd/user/` below the same directory.
 */
export function userConfigHome(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  return xdg !== undefined && xdg !== '' && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.config');
}

/** The user-level defaults file: `orchestra/config.json` in {@link userConfigHome}. */
export function userConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(userConfigHome(env), 'orchestra', 'config.json');
}
