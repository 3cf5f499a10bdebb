import type { Proposal } from '../../src/tasks/proposal.js';

/** A proposal as a careful planner writes it. */
export function sampleProposal(overrides: Partial<Proposal> = {}): Proposal {
  return {
    title: 'Close idle sessions',
    goal: 'Sessions idle for an hour are closed by a timer.',
    before: 'Idle sessions live forever.',
    after: 'A sweep closes them every minute.',
    acceptance_criteria: ['idle sessions are closed', 'the timeout is configurable'],
    files_to_touch: ['src/server/session-server.ts'],
    test_plan: ['npm test -- session', 'grep -q idle src/server/session-server.ts'],
    ...overrides,
  };
}
