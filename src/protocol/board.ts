import * as z from 'zod';

/**
 * One row of the task board, as the scheduler projects it, the server's `task-board` command
 * answers it and the TUI's board overlay reads it: a schema, so the client checks what came over
 * the wire before drawing it.
 */
export const BoardTaskSchema = z.object({
  id: z.string(),
  status: z.string(),
  title: z.string().optional(),
  strategy: z.string(),
  error: z.string().optional(),
  resultBranch: z.string().optional(),
  costUsd: z.number().optional(),
  /** `autonomy` for a task the autonomous mode wrote, with its cycle; `kind: plan` for its planning task. */
  origin: z.literal('autonomy').optional(),
  cycle: z.number().optional(),
  kind: z.literal('plan').optional(),
  attempts: z.array(
    z.object({
      id: z.string(),
      state: z.string(),
      paneId: z.number().optional(),
      costUsd: z.number().optional(),
    }),
  ),
});

/** One row of the task board (see {@link BoardTaskSchema}). */
export type BoardTask = z.infer<typeof BoardTaskSchema>;
