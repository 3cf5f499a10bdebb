import type { Command } from 'commander';
import type { AutonomyStatus } from '../../autonomy/loop.js';
import { printable } from '../../common/printable.js';
import { parseTarget } from '../../ipc/session-target.js';
import type { CommandEnv } from '../command-env.js';
import { printJson } from '../output.js';
import { commandConnection } from './session.js';

/** The status as lines a person reads: `phase: cooldown (cycle 2)`, `tasks today: 2 of 2`, … */
export function formatAutonomyStatus(status: AutonomyStatus): string[] {
  const usd = (n: number) => `$${n.toFixed(2)}`;
  const lines = [
    `autonomy: ${status.enabled ? 'enabled' : 'disabled'}`,
    `phase: ${status.phase}${status.cycle > 0 ? ` (cycle ${status.cycle})` : ''}${status.pausedByUser ? ', paused by the user' : ''}`,
    `tasks today: ${status.tasksToday}${status.maxTasksPerDay !== undefined ? ` of ${status.maxTasksPerDay}` : ''}`,
    `spent today: ${usd(status.spentTodayUsd)}${status.budgetUsdPerDay !== undefined ? ` of ${usd(status.budgetUsdPerDay)}` : ''}`,
  ];
  if (status.nextStartAt) lines.push(`next cycle: not before ${status.nextStartAt}`);
  if (status.tasks.length) lines.push(`this cycle: ${status.tasks.join(', ')}`);
  if (status.reason) lines.push(`reason: ${status.reason}`);
  return lines.map((line) => printable(line));
}

/** Registers `orchestra autonomy status [--json] | pause | resume | run-now`. */
export function registerAutonomyCommands(program: Command, env: CommandEnv): void {
  const autonomy = program
    .command('autonomy')
    .description('watch and steer the autonomous mode (autonomy.enabled in the config)');
  const actions = [
    ['status', 'show the phase, the cycle, and the day’s tasks and spend against the caps'],
    ['pause', 'start nothing more of the autonomous mode until `resume` (running attempts finish)'],
    ['resume', 'go on after `pause`'],
    ['run-now', 'start a cycle now, without waiting for the idle clock (the daily caps still hold)'],
  ] as const;
  for (const [action, description] of actions) {
    const command = autonomy
      .command(action)
      .description(description)
      .option('-t, --target <session>', "session (default: this repository's)");
    if (action === 'status') command.option('--json', 'print the status as JSON');
    command.action(async (opts: { target?: string; json?: boolean }) => {
      const target = await parseTarget(opts.target, env.cwd, env.env, false);
      const connection = await commandConnection(env, target);
      let status: AutonomyStatus;
      try {
        status = await connection.request<AutonomyStatus>({ cmd: 'autonomy', action });
      } finally {
        connection.close();
      }
      if (opts.json) printJson(env.output, status);
      else for (const line of formatAutonomyStatus(status)) env.output.out(line);
    });
  }
}
