/**
 * Summarises V8 CPU profiles (`.cpuprofile`, as `node --cpu-prof` or `npm run bench -- --profile`
 * writes them): where the samples fall, by package or source file and by function (self time).
 *
 *   node --import tsx bench/profile-summary.ts bench/out/profiles/*.cpuprofile [--top 20]
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code lives: a package under node_modules, a project file, node's internals, or V8. */
export function origin(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1]!;
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  const project = /\/(src|dist|bench|bin)\/(.*)$/.exec(url);
  if (project) return `${project[1]}/${project[2]}`;
  return url;
}

/** Self time (ms) per key, summed over the samples. */
function selfTimes(profile: CpuProfile, key: (node: ProfileNode) => string): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (!node) return;
    const k = key(node);
    totals.set(k, (totals.get(k) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  return totals;
}

/** The report for one profile: total time, then the top `top` origins and functions by self time. */
export function summarise(path: string, top: number): string {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  const idle = selfTimes(profile, (n) => n.callFrame.functionName).get('(idle)') ?? 0;
  const lines = [
    `${basename(path)}: ${totalMs.toFixed(0)} ms profiled, ${(totalMs - idle).toFixed(0)} ms busy`,
  ];
  const list = (title: string, totals: Map<string, number>) => {
    lines.push(`  ${title}`);
    const sorted = [...totals.entries()].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1]);
    for (const [k, ms] of sorted.slice(0, top)) lines.push(`    ${ms.toFixed(1).padStart(8)} ms  ${k}`);
  };
  list(
    'self time by origin',
    selfTimes(profile, (n) => origin(n.callFrame.url, n.callFrame.functionName)),
  );
  list(
    'self time by function',
    selfTimes(
      profile,
      (n) =>
        `${n.callFrame.functionName || '(anonymous)'}  ${origin(n.callFrame.url, n.callFrame.functionName)}:${n.callFrame.lineNumber + 1}`,
    ),
  );
  return lines.join('\n');
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '15' } },
  });
  const top = Number.parseInt(values.top, 10) || 15;
  for (const path of positionals) process.stdout.write(`${summarise(path, top)}\n\n`);
}

if (process.argv[1] && import.meta.url.endsWith(basename(process.argv[1]))) main();
