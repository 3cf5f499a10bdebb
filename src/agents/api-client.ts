import Anthropic from '@anthropic-ai/sdk';
import { OrchestraError } from '../common/errors.js';

/**
 * The Messages API client of orchestra's direct model calls (the judge, the reviewer, the memory
 * keeper): the key or token and the base URL from the environment, never from argv or the config.
 *
 * @param env ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN, and optionally ANTHROPIC_BASE_URL
 * @param consequence what cannot happen without a key, for the message: `the attempts cannot be judged`
 * @param options.maxRetries the SDK's own retries of transient failures (default: the SDK's, 2)
 * @throws OrchestraError USAGE when neither ANTHROPIC_API_KEY nor ANTHROPIC_AUTH_TOKEN is set
 */
export function modelClient(
  env: Record<string, string | undefined>,
  consequence: string,
  options: { maxRetries?: number } = {},
): Anthropic {
  const apiKey = env.ANTHROPIC_API_KEY || undefined;
  const authToken = env.ANTHROPIC_AUTH_TOKEN || undefined;
  if (apiKey === undefined && authToken === undefined) {
    throw new OrchestraError('USAGE', `ANTHROPIC_API_KEY is not set, so ${consequence}`, {
      hint: 'export ANTHROPIC_API_KEY in the environment orchestra runs in (never pass it as an argument)',
    });
  }
  return new Anthropic({
    apiKey: apiKey ?? null,
    authToken: authToken ?? null,
    baseURL: env.ANTHROPIC_BASE_URL || undefined,
    ...(options.maxRetries === undefined ? {} : { maxRetries: options.maxRetries }),
  });
}
