import { DEFAULT_BEST_OF_N } from '../tasks/task-file.js';
import type { AttemptOutcome, Strategy, StrategyContext, StrategyResult } from './types.js';

/** `single` (default): one attempt; done when it passes the check gate. */
export const singleStrategy: Strategy = {
  name: 'single',
  async run(ctx: StrategyContext): Promise<StrategyResult> {
    const handle = await ctx.startAttempt();
    const outcome = await ctx.awaitAttempt(handle);
    return outcome.passed
      ? { outcome: 'done', winner: outcome, attempts: [outcome] }
      : { outcome: 'failed', attempts: [outcome], reason: outcome.reason ?? 'the checks did not pass' };
  },
};

/**
 * `best-of-n`: N attempts in parallel, each in its own worktree and worker. Only attempts that
 * pass the check gate are candidates; a judge scores them against the acceptance criteria and the
 * highest wins, ties going to the smaller diff. The others keep their branches until `orchestra gc`.
 */
export const bestOfNStrategy: Strategy = {
  name: 'best-of-n',
  async run(ctx: StrategyContext): Promise<StrategyResult> {
    const n = ctx.task.meta.n ?? DEFAULT_BEST_OF_N;
    const handles = [];
    for (let i = 0; i < n; i++) handles.push(await ctx.startAttempt());
    const outcomes: AttemptOutcome[] = await Promise.all(handles.map((h) => ctx.awaitAttempt(h)));
    const passing = outcomes.filter((o) => o.passed);
    if (passing.length === 0) {
      return { outcome: 'failed', attempts: outcomes, reason: `none of the ${n} attempts passed the checks` };
    }
    const { scores, winner } = await ctx.judge(outcomes);
    const chosen = passing.find((o) => o.attemptId === winner) ?? passing[0]!;
    ctx.log(`best-of-${n}: ${chosen.attemptId} chosen from ${passing.length} passing`);
    return { outcome: 'done', winner: chosen, attempts: outcomes, scores };
  },
};

/** Review rounds of `refine` when the task does not say (`rounds` in its front matter). */
export const DEFAULT_REFINE_ROUNDS = 2;

/**
 * `refine`: attempt → review by the read-only reviewer → the review sent back to the same agent →
 * repeat up to `rounds` times, stopping early when the reviewer approves. The result must still
 * pass the check gate.
 */
export const refineStrategy: Strategy = {
  name: 'refine',
  async run(ctx: StrategyContext): Promise<StrategyResult> {
    const rounds = ctx.task.meta.rounds ?? DEFAULT_REFINE_ROUNDS;
    const handle = await ctx.startAttempt();
    let outcome = await ctx.awaitAttempt(handle);
    for (let round = 1; round <= rounds && outcome.passed; round++) {
      const review = await ctx.review(handle);
      if (review.failed) {
        ctx.log(`refine: the reviewer failed (${review.failed}); keeping the last passing round`);
        break;
      }
      if (review.approved) {
        ctx.log(`refine: ${handle.attemptId} approved after ${round} review(s)`);
        break;
      }
      ctx.log(`refine: review ${round} of ${rounds} sent back to ${handle.attemptId}`);
      try {
        await ctx.send(
          handle,
          `A reviewer looked at your change and asks for the following:\n\n${review.comments}`,
        );
      } catch (error) {
        // Its agent is gone (a restart ended it): what passed stands.
        ctx.log(
          `refine: the review could not reach ${handle.attemptId} (${(error as Error).message}); keeping the last passing round`,
        );
        break;
      }
      outcome = await ctx.awaitAttempt(handle);
    }
    return outcome.passed
      ? { outcome: 'done', winner: outcome, attempts: [outcome] }
      : { outcome: 'failed', attempts: [outcome], reason: outcome.reason ?? 'the checks did not pass' };
  },
};

/** The strategies that ship with orchestra, by name. */
export const BUILTIN_STRATEGIES: Readonly<Record<string, Strategy>> = {
  single: singleStrategy,
  'best-of-n': bestOfNStrategy,
  refine: refineStrategy,
};
