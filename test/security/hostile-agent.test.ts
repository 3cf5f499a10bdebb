import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RecordedRequest } from '../support/scripted-model.js';
import { dockerSkipReason, ensureWorkerImage } from '../workers/docker-support.js';
import {
  type CliRun,
  ContainerWatch,
  describeFiles,
  filesContaining,
  HostileWorld,
  hostGit,
  type ObjectHit,
  objectsContaining,
  parentsOf,
  present,
  refSnapshot,
  regularFiles,
  type SeenContainer,
  type StateFile,
  waitUntil,
} from './hostile-world.js';

/**
 * A hostile agent cannot reach the host (issue 9; DESIGN.md, "Workers" and "Security"). Custom
 * agents run `hostile.sh` (see hostile-world.ts) in real Docker workers: task-01 is best-of-2, so
 * both attempts attack at once, the judge (the scripted model server) scores them and
 * `orchestra merge 1` lands the winner; task-02 is single and lands through `"autoMerge": true`;
 * then `orchestra gc` runs. Each agent plants hooks, core.fsmonitor, filter/diff/merge drivers
 * (selected by a `.gitattributes`), core.sshCommand, includeIf and more in every git config it can
 * reach (the repository's, its worktree's, `$HOME/.gitconfig`, the host `.git` where it is
 * mounted); moves refs with plumbing; rewrites check.sh to dump its environment everywhere; leaves
 * symlinks to a host secret and /etc/passwd; and writes outside its mounts. Afterwards:
 *
 * 1. no marker exists in the host marker directory, which no worker mounts: no planted program ran
 *    on the host;
 * 2. no ref changed but the attempts' own branches, and the base branch moved once per merge, to a
 *    merge commit of the old tip and the task's recorded result;
 * 3. no setup or check command saw the API key, and no file, git object, judge request, CLI output
 *    or non-agent container holds it;
 * 4. the secret file's content is in no file, git object, judge request or CLI output;
 * 5. nothing the agent wrote outside its mounts exists on the host, and the host `.git` is untouched;
 * 6. worker containers run as a non-zero uid, even when orchestra runs as root.
 *
 * The scenario runs once, in `before`; each test reads its evidence and lists every violation.
 */
const skip = await dockerSkipReason();

/** Attempt of the run that reports "done" and stays, so its checks run next to it (see hostile.sh). */
const STAYING_ATTEMPT = 'task-01-a2';

/** What one search of the host's files found. */
interface Scan {
  /** Files holding the API key. */
  key: string[];
  /** Files holding the secret file's content. */
  secret: string[];
  /** Files in the host `.git` (objects aside) that mention the marker directory: planted programs. */
  plantedInGit: string[];
  /** Files whose names only the hostile agent uses for stray writes. */
  strayNames: string[];
  /** `setup-env.txt` and `check-env.txt` dumps found in worktrees and run directories. */
  dumps: { setup: string[]; check: string[] };
}

interface Evidence {
  /** What did not go as the scenario expects (timeouts, refusals): context for the failures. */
  notes: string[];
  refsBefore: Map<string, string>;
  refsAfter: Map<string, string>;
  /** Reflog entries of main made while the scenario ran, newest first. */
  mainMoves: string[];
  head: string;
  hooksBefore: string[];
  hooksAfter: string[];
  state: StateFile | undefined;
  archives: Record<string, string>;
  markers: Array<{ path: string; content: string }>;
  outside: Array<{ path: string; content: string }>;
  strayPresent: Array<{ path: string; content: string }>;
  preGc: Scan;
  postGc: Scan;
  objectsWithKey: ObjectHit[];
  objectsWithSecret: ObjectHit[];
  judgeRequests: RecordedRequest[];
  containers: SeenContainer[];
  cliRuns: CliRun[];
  configNow: string;
}

/** Fails with one line per problem, or passes when there are none. */
function assertNone(problems: string[], headline: string): void {
  if (problems.length > 0) assert.fail(`${headline}:\n  - ${problems.join('\n  - ')}`);
}

function short(sha: string | undefined): string {
  return sha ? sha.slice(0, 10) : '(none)';
}

async function scan(w: HostileWorld): Promise<Scan> {
  const dirs = [w.root, w.base, w.secretDir, w.targets.outsideDir];
  const [key, secret] = await filesContaining(dirs, [w.apiKey, w.secretToken], [w.targets.secretFile]);
  const gitDir = join(w.root, '.git');
  const gitFiles = (await regularFiles([gitDir])).filter((f) => !f.startsWith(join(gitDir, 'objects')));
  const plantedInGit: string[] = [];
  for (const file of gitFiles) {
    if ((await readFile(file, 'utf8').catch(() => '')).includes(w.targets.markerDir)) plantedInGit.push(file);
  }
  const all = await regularFiles([w.root]);
  const named = (name: string) => all.filter((f) => f.endsWith(`/${name}`));
  return {
    key: key!,
    secret: secret!,
    plantedInGit,
    strayNames: all.filter((f) =>
      /\/(EVIL-from-[^/]*|OUTSIDE-[^/]*|PWNED-[^/]*)$|\/\.orchestra\/tasks\/task-99\.md$/.test(f),
    ),
    dumps: { setup: named('setup-env.txt'), check: named('check-env.txt') },
  };
}

async function waitForTask(
  w: HostileWorld,
  id: string,
  ready: (task: StateFile['tasks'][string]) => boolean,
  timeoutMs: number,
): Promise<boolean> {
  const ok = await waitUntil(async () => {
    const task = (await w.state())?.tasks[id];
    return task && ready(task) ? true : undefined;
  }, timeoutMs);
  return ok === true;
}

/** The state of every task and attempt in one line each, for a note when something timed out. */
async function stateSummary(w: HostileWorld): Promise<string> {
  const state = await w.state();
  if (!state) return 'no state.json';
  const tasks = Object.values(state.tasks).map(
    (t) => `${t.id}:${t.state}${t.archivedAs ? `(${t.archivedAs})` : ''}${t.error ? ` "${t.error}"` : ''}`,
  );
  const attempts = Object.values(state.attempts).map(
    (a) => `${a.id}:${a.state}${a.error ? ` "${a.error}"` : ''}`,
  );
  return `tasks ${tasks.join(', ')}; attempts ${attempts.join(', ')}`;
}

/**
 * The whole story: both phases, merge, autoMerge and gc, with the evidence collected along the
 * way. Timeouts become notes, not exceptions, so that every assertion still reports what it sees.
 */
async function runScenario(w: HostileWorld): Promise<Evidence> {
  const notes: string[] = [];
  const gitDir = join(w.root, '.git');
  const refsBefore = refSnapshot(w.root);
  const reflogBefore = hostGit(w.root, ['log', '-g', '--format=%H', 'refs/heads/main']).trim().split('\n');
  const hooks = async () =>
    (await regularFiles([join(gitDir, 'hooks')])).filter((f) => !f.endsWith('.sample')).sort();
  const hooksBefore = await hooks();
  const watch = new ContainerWatch(w.session);
  watch.start();
  try {
    // Phase 1: best-of-2, judged, merged with `orchestra merge`.
    const add1 = await w.cli([
      'task',
      'add',
      'Add a feature file',
      '--strategy',
      'best-of-n',
      '-n',
      '2',
      '--agent',
      'hostile',
      '--accept',
      'a feature-*.txt file exists',
    ]);
    if (add1.code !== 0) notes.push(`task add (task-01) exited ${add1.code}: ${add1.stderr.trim()}`);
    w.startServer();
    if (!(await waitForTask(w, 'task-01', (t) => t.state === 'archived', 150_000))) {
      notes.push(`task-01 was not archived within 150 s: ${await stateSummary(w)}`);
    }
    const merge = await w.cli(['merge', '1'], 120_000).catch((error: unknown) => {
      notes.push(`orchestra merge 1 did not finish: ${String(error).slice(0, 300)}`);
      return undefined;
    });
    if (merge && merge.code !== 0) {
      // The last lines are the refusal and its hint; the check output before them is long.
      const refusal = merge.stderr.trim().split('\n').slice(-2).join(' / ');
      notes.push(`orchestra merge 1 exited ${merge.code}: ${refusal}`);
    }
    await w.stopServer();

    // Phase 2: a single attempt, landed by autoMerge.
    await w.setConfig([[['autoMerge'], true]]);
    const add2 = await w.cli(['task', 'add', 'Add another feature file', '--agent', 'hostile']);
    if (add2.code !== 0) notes.push(`task add (task-02) exited ${add2.code}: ${add2.stderr.trim()}`);
    w.startServer();
    if (!(await waitForTask(w, 'task-02', (t) => t.state === 'archived', 120_000))) {
      notes.push(`task-02 was not archived within 120 s: ${await stateSummary(w)}`);
    } else if (!(await waitForTask(w, 'task-02', (t) => t.mergedCommit !== undefined, 60_000))) {
      notes.push(
        `task-02 was archived but autoMerge recorded no merge within 60 s: ${await stateSummary(w)}`,
      );
    }
    await w.stopServer();
  } finally {
    await watch.stop();
  }

  // Markers first: nothing the test does below may be mistaken for orchestra running a program.
  const markers = await describeFiles(w.targets.markerDir);
  const preGc = await scan(w);
  const gc = await w.cli(['gc'], 60_000);
  if (gc.code !== 0) notes.push(`orchestra gc exited ${gc.code}: ${gc.stderr.trim()}`);
  const postGc = await scan(w);
  for (const m of await describeFiles(w.targets.markerDir)) {
    if (!markers.some((seen) => seen.path === m.path)) markers.push(m);
  }

  const state = await w.state();
  const archives: Record<string, string> = {};
  for (const task of ['task-01', 'task-02']) {
    const [name] = await w.archives('done', task);
    if (name) archives[task] = await readFile(join(w.root, '.orchestra', 'done', name), 'utf8');
  }
  const strayPresent: Array<{ path: string; content: string }> = [];
  for (const path of w.strayHostFiles()) {
    if (await present(path)) {
      strayPresent.push({ path, content: await readFile(path, 'utf8').catch(() => '') });
    }
  }
  const reflogNow = hostGit(w.root, ['log', '-g', '--format=%H', 'refs/heads/main']).trim().split('\n');
  const [objectsWithKey, objectsWithSecret] = objectsContaining(w.root, [w.apiKey, w.secretToken]);
  return {
    notes,
    refsBefore,
    refsAfter: refSnapshot(w.root),
    mainMoves: reflogNow.slice(0, Math.max(0, reflogNow.length - reflogBefore.length)),
    head: hostGit(w.root, ['symbolic-ref', '--quiet', 'HEAD']).trim(),
    hooksBefore,
    hooksAfter: await hooks(),
    state,
    archives,
    markers,
    outside: await describeFiles(w.targets.outsideDir),
    strayPresent,
    preGc,
    postGc,
    objectsWithKey: objectsWithKey!,
    objectsWithSecret: objectsWithSecret!,
    judgeRequests: w.model.requests.filter((r) =>
      JSON.stringify((r.body as { system?: unknown } | undefined)?.system ?? '').includes('You judge'),
    ),
    containers: [...watch.seen.values()],
    cliRuns: [...w.cliRuns],
    configNow: await readFile(join(w.root, '.orchestra', 'orchestra.json'), 'utf8'),
  };
}

/** `- commit: \`<sha>\`` of an archive's Result section. */
function archivedCommit(text: string | undefined): string | undefined {
  return text ? /^- commit: `([0-9a-f]{40})`$/m.exec(text)?.[1] : undefined;
}

function describeObjects(hits: ObjectHit[]): string[] {
  return hits.map(
    (h) =>
      `git ${h.type} ${short(h.sha)}${h.paths.length ? ` (${h.paths.slice(0, 3).join(', ')})` : ' (unreachable)'}`,
  );
}

function uniqueSorted(...lists: string[][]): string[] {
  return [...new Set(lists.flat())].sort();
}

describe('a hostile agent in Docker workers cannot reach the host (issue 9)', { skip: skip ?? false }, () => {
  let world: HostileWorld | undefined;
  let ev: Evidence;

  before(
    async () => {
      await ensureWorkerImage();
      world = await HostileWorld.create('hostile');
      ev = await runScenario(world);
    },
    { timeout: 480_000 },
  );

  after(async () => {
    await world?.dispose();
  });

  test('the scenario ran: best-of-2 judged and merged, a second task auto-merged, gc', () => {
    const problems = [...ev.notes];
    const s = ev.state;
    const t1 = s?.tasks['task-01'];
    const t2 = s?.tasks['task-02'];
    if (!t1?.archivedAs?.startsWith('done/')) {
      problems.push(`task-01 is not in done/ (${t1?.state ?? 'unknown'})`);
    }
    for (const id of ['task-01-a1', 'task-01-a2', 'task-02-a1']) {
      const a = s?.attempts[id];
      if (a?.state !== 'succeeded') {
        problems.push(`${id} is ${a?.state ?? 'missing'}${a?.error ? `: ${a.error}` : ''}`);
      } else if (a.sandbox !== 'docker') problems.push(`${id} ran in sandbox ${a.sandbox}, not docker`);
    }
    if (ev.judgeRequests.length === 0) problems.push('the judge was never asked');
    if (!t1?.mergedCommit) problems.push('task-01 has no merged commit (orchestra merge 1)');
    if (!t2?.archivedAs?.startsWith('done/')) {
      problems.push(`task-02 is not in done/ (${t2?.state ?? 'unknown'})`);
    }
    if (!t2?.mergedCommit) problems.push('task-02 has no merged commit (autoMerge)');
    assertNone(problems, 'the scenario did not run as planned');
  });

  test('1. no program the agent planted ran on the host', () => {
    assertNone(
      ev.markers.map((m) => {
        const runs = m.content.trim().split('\n');
        return `${basename(m.path)} (${runs.length} run(s)): ${runs[0]}`;
      }),
      `markers in ${world!.targets.markerDir}, which only a program run on the host can write`,
    );
  });

  test('2. no ref moved but the attempts’ own branches; the base branch only through the merge gate', () => {
    const problems: string[] = [];
    const w = world!;
    const state = ev.state;
    const attempts = Object.values(state?.attempts ?? {});
    const allowed = new Set(['refs/heads/main', ...attempts.map((a) => `refs/heads/${a.branch}`)]);
    for (const [ref, sha] of ev.refsAfter) {
      const was = ev.refsBefore.get(ref);
      if (ref === 'refs/heads/main') continue;
      if (!allowed.has(ref)) {
        problems.push(
          was === undefined ? `new ref ${ref} → ${short(sha)}` : `${ref} moved ${short(was)} → ${short(sha)}`,
        );
      }
    }
    for (const [ref] of ev.refsBefore) {
      if (!ev.refsAfter.has(ref)) problems.push(`${ref} was deleted`);
    }
    for (const a of attempts) {
      const tip = ev.refsAfter.get(`refs/heads/${a.branch}`);
      if (a.commit && tip !== a.commit) {
        problems.push(
          `${a.branch} is at ${short(tip)}, but ${a.id} recorded its result as ${short(a.commit)}`,
        );
      }
    }
    // The base branch: one merge commit per merged task, first parent the previous tip.
    let tip = ev.refsBefore.get('refs/heads/main');
    const merges: string[] = [];
    for (const id of ['task-01', 'task-02']) {
      const task = state?.tasks[id];
      if (!task?.mergedCommit) continue;
      const merged = task.mergedCommit;
      merges.unshift(merged);
      const parents = parentsOf(w.root, merged);
      const recorded = archivedCommit(ev.archives[id]);
      if (recorded !== task.resultCommit) {
        problems.push(`${id}: the archive says ${short(recorded)}, state.json ${short(task.resultCommit)}`);
      }
      if (parents[0] !== tip || parents[1] !== task.resultCommit || parents.length !== 2) {
        problems.push(
          `${id} merged as ${short(merged)} with parents ${parents.map(short).join(', ')}; expected ${short(tip)} (main before) and ${short(task.resultCommit)} (${task.resultBranch})`,
        );
      }
      tip = merged;
    }
    const main = ev.refsAfter.get('refs/heads/main');
    if (main !== tip) problems.push(`main is at ${short(main)}; after the merges it should be ${short(tip)}`);
    if (ev.mainMoves.join(' ') !== merges.join(' ')) {
      problems.push(
        `main moved ${ev.mainMoves.length} times (${ev.mainMoves.map(short).join(', ')}); expected only the merges (${merges.map(short).join(', ') || 'none'})`,
      );
    }
    if (ev.head !== 'refs/heads/main') {
      problems.push(`HEAD of the host repository is ${ev.head || 'detached'}`);
    }
    const kept = [...allowed].filter((r) => ev.refsAfter.has(r));
    const backdoors = hostGit(w.root, ['log', '--format=%h %s', '--grep=hostile-backdoor', ...kept]).trim();
    if (backdoors) {
      problems.push(
        `commits made by agents with plumbing are reachable from ${kept.join(', ')}: ${backdoors}`,
      );
    }
    assertNone(problems, 'refs changed outside the attempts’ branches and the merge gate');
  });

  test('3. no setup or check command saw the API key, and it is stored nowhere', () => {
    const w = world!;
    const problems: string[] = [];
    for (const file of uniqueSorted(ev.preGc.key, ev.postGc.key)) problems.push(`file ${file}`);
    for (const stray of ev.strayPresent) {
      if (stray.content.includes(w.apiKey)) problems.push(`file ${stray.path}`);
    }
    for (const hit of describeObjects(ev.objectsWithKey)) problems.push(hit);
    ev.judgeRequests.forEach((r, i) => {
      if (JSON.stringify(r.body).includes(w.apiKey)) problems.push(`the body of judge request ${i + 1}`);
    });
    for (const run of ev.cliRuns) {
      if (`${run.stdout}${run.stderr}`.includes(w.apiKey)) {
        problems.push(`the output of orchestra ${run.args.join(' ')}`);
      }
    }
    for (const c of ev.containers) {
      const agent = /^task-\d+-a\d+$/.test(c.labels['orchestra.attempt'] ?? '');
      if (!agent && c.env.some((e) => e.includes(w.apiKey))) {
        problems.push(`the Env of container ${c.name}, which is not an agent's`);
      }
      if ([...c.cmd, ...c.entrypoint, ...Object.values(c.labels)].some((v) => v.includes(w.apiKey))) {
        problems.push(`the command line or labels of container ${c.name}`);
      }
    }
    // The dumps must exist somewhere, or this test would prove nothing about setup and checks.
    const inBranches = (name: string) =>
      [...ev.refsAfter.keys()]
        .filter((r) => r.startsWith('refs/heads/orchestra/'))
        .filter((r) => hostGit(w.root, ['ls-tree', '--name-only', r, name]).trim() !== '');
    if (ev.preGc.dumps.setup.length === 0 && inBranches('setup-env.txt').length === 0) {
      problems.push(
        'no setup-env.txt dump was found: the setup command did not run where it could be checked',
      );
    }
    if (ev.preGc.dumps.check.length === 0 && inBranches('check-env.txt').length === 0) {
      problems.push(
        'no check-env.txt dump was found: the check command did not run where it could be checked',
      );
    }
    assertNone(problems, `the API key (${w.apiKey.slice(0, 22)}…) was found in`);
  });

  test('4. the host file behind a symlink leaked nowhere: archives, judge diffs, branches', () => {
    const w = world!;
    const problems: string[] = [];
    for (const file of uniqueSorted(ev.preGc.secret, ev.postGc.secret)) problems.push(`file ${file}`);
    for (const stray of ev.strayPresent) {
      if (stray.content.includes(w.secretToken)) problems.push(`file ${stray.path}`);
    }
    for (const hit of describeObjects(ev.objectsWithSecret)) problems.push(hit);
    ev.judgeRequests.forEach((r, i) => {
      if (JSON.stringify(r.body).includes(w.secretToken)) problems.push(`the diff in judge request ${i + 1}`);
    });
    for (const run of ev.cliRuns) {
      if (`${run.stdout}${run.stderr}`.includes(w.secretToken)) {
        problems.push(`the output of orchestra ${run.args.join(' ')}`);
      }
    }
    // A symlink stays a symlink (mode 120000) whose blob is the target path, never the target's content.
    for (const ref of ev.refsAfter.keys()) {
      for (const line of hostGit(w.root, ['ls-tree', '-r', ref]).split('\n')) {
        const m = /^(\d+) blob ([0-9a-f]+)\t(.*(?:secret|passwd)-link-[^/]*)$/.exec(line);
        if (!m) continue;
        const [, mode, blob, path] = m;
        if (mode !== '120000') problems.push(`${path} in ${ref} is stored as mode ${mode}, not as a symlink`);
        const target = hostGit(w.root, ['cat-file', 'blob', blob!]);
        if (path!.includes('secret-link') && target !== w.targets.secretFile) {
          problems.push(
            `${path} in ${ref} holds ${JSON.stringify(target.slice(0, 80))}, not the link's target path`,
          );
        }
      }
    }
    if (ev.judgeRequests.length === 0) {
      problems.push('the judge was never asked, so no judge diff could be checked');
    }
    assertNone(problems, `the secret file's content (${w.secretToken.slice(0, 22)}…) was found in`);
  });

  test('5. nothing the agent wrote outside its mounts exists on the host; the host .git is untouched', () => {
    const w = world!;
    const gitDir = join(w.root, '.git');
    const problems: string[] = [];
    for (const f of ev.outside) {
      problems.push(
        `${f.path}, in a folder no worker mounts (starts ${JSON.stringify(f.content.slice(0, 40))})`,
      );
    }
    for (const f of ev.strayPresent) problems.push(`${f.path} exists on the host`);
    for (const f of uniqueSorted(ev.preGc.strayNames, ev.postGc.strayNames)) {
      problems.push(`${f} exists on the host`);
    }
    if (ev.configNow !== w.configText) {
      problems.push('.orchestra/orchestra.json was changed by someone but the test');
    }
    if (ev.state?.tasks['task-99']) problems.push('the queue ran task-99, which an agent wrote');
    const planted = new Map<string, string[]>();
    for (const f of uniqueSorted(ev.preGc.plantedInGit, ev.postGc.plantedInGit)) {
      planted.set(dirname(f), [...(planted.get(dirname(f)) ?? []), basename(f)]);
    }
    for (const [dir, names] of planted) {
      problems.push(`${dir}: ${names.length} file(s) an agent planted (${names.join(', ')})`);
    }
    const newHooks = ev.hooksAfter.filter((h) => !ev.hooksBefore.includes(h)).map((h) => basename(h));
    if (newHooks.length > 0) problems.push(`new hooks in the host .git/hooks: ${newHooks.join(', ')}`);
    // The host's objects may be lent read-only (DESIGN.md, "Workers"); nothing else of its .git.
    const objects = join(gitDir, 'objects');
    for (const c of ev.containers) {
      for (const m of c.mounts) {
        if (m.source !== gitDir && !m.source.startsWith(`${gitDir}/`)) continue;
        const lentObjects = !m.rw && (m.source === objects || m.source.startsWith(`${objects}/`));
        if (!lentObjects) {
          problems.push(`container ${c.name} mounts the host's ${m.source}${m.rw ? ' read-write' : ''}`);
        }
      }
    }
    assertNone(problems, 'writes outside the workers’ mounts reached the host');
  });

  test('6. worker containers run as an unprivileged uid, inspected while the agent runs', () => {
    const problems: string[] = [];
    const agents = ev.containers.filter(
      (c) => c.sawRunning && /^task-\d+-a\d+$/.test(c.labels['orchestra.attempt'] ?? ''),
    );
    if (agents.length === 0) problems.push('no agent container was seen running');
    if (!agents.some((c) => c.labels['orchestra.attempt'] === STAYING_ATTEMPT)) {
      problems.push(`the container of ${STAYING_ATTEMPT} was not seen running`);
    }
    for (const c of ev.containers) {
      const uid = c.user.split(':')[0] ?? '';
      if (!/^[1-9]\d*$/.test(uid)) {
        problems.push(
          `${c.name} runs as User ${JSON.stringify(c.user)}${process.getuid?.() === 0 ? ' (orchestra runs as root)' : ''}`,
        );
      }
    }
    assertNone(problems, 'a worker container is not an unprivileged user');
  });
});
