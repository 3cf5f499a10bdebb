/**
 * The secrets an agent may need from the environment the server runs in: model API keys. They
 * reach a worker only through its environment (DESIGN.md, "Security"), never a file or argv, and a
 * client started with one may hand it to a running server that lacks it (`set-env`).
 */
export const SECRET_ENV = [
  'ANTHROPIC_API_KEY',
  'ANTHROPIC_AUTH_TOKEN',
  // Claude Code's OAuth token (`claude setup-token`, or read from its login file, claude.ts).
  'CLAUDE_CODE_OAUTH_TOKEN',
  'OPENAI_API_KEY',
] as const;

/** One of {@link SECRET_ENV}. */
export type SecretEnvName = (typeof SECRET_ENV)[number];

/** True when `name` is one of {@link SECRET_ENV}. */
export function isSecretEnv(name: string): name is SecretEnvName {
  return (SECRET_ENV as readonly string[]).includes(name);
}
