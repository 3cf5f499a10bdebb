/**
 * The wire protocol's version (DESIGN.md, "Wire protocol"), in a module without zod so that a
 * client can check it without loading the schemas. Bump it on any incompatible change.
 */

/** Version spoken by this build. HELLO carries it; a mismatch ends the connection with a clear message. 3: WELCOME carries `ui`, the `notify` event (issue 13). */
export const PROTOCOL_VERSION = 3;

/** The one message both sides show on a version mismatch (DESIGN.md, "Wire protocol"). */
export function versionMismatchMessage(server: number, client: number): string {
  return `server speaks protocol ${server}, this client ${client}: run \`orchestra kill-server\` or use the matching version`;
}
