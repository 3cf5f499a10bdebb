import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * systemd's own check of a unit file, for the tests of `orchestra service install`:
 * `systemd-analyze --user verify`, which loads the unit as the user manager would (and checks that
 * ExecStart='s program exists). It needs no running systemd, only a runtime directory.
 */

/** Runs a command, resolving with its exit code and both outputs (it never rejects on exit). */
function run(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') reject(error);
      else resolve({ code: error ? Number(error.code) : 0, output: `${stdout}${stderr}`.trim() });
    });
  });
}

/**
 * Why the verify tests cannot run here, or undefined when they can. With `CI` set a missing
 * `systemd-analyze` is a failure: `.ci/run` installs it.
 */
export async function systemdAnalyzeSkipReason(): Promise<string | undefined> {
  const probe = await run('systemd-analyze', ['--version'], process.env).catch((error: Error) => ({
    code: -1,
    output: error.message,
  }));
  if (probe.code === 0) return undefined;
  const reason = `systemd-analyze cannot run (${probe.output.split('\n')[0]}); apt-get install systemd`;
  if (process.env.CI) throw new Error(`CI is set but ${reason}`);
  return reason;
}

/**
 * Verifies `unit` saved as `name` (e.g. `orchestra-demo.service`, the name systemd sees).
 *
 * @returns ok when systemd-analyze exits 0 and says nothing: it exits 0 on an unknown key or a
 *   value it cannot parse (it ignores them with a warning), so any output counts as a failure
 */
export async function verifyUnit(unit: string, name: string): Promise<{ ok: boolean; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'orchestra-unit-'));
  try {
    const file = join(dir, name);
    await writeFile(file, unit);
    // The user manager needs a runtime directory; a container's root login has none.
    const env = { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR || dir };
    const result = await run('systemd-analyze', ['--user', 'verify', file], env);
    return { ok: result.code === 0 && result.output === '', output: result.output };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
