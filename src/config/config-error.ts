import { OrchestraError } from '../common/errors.js';

/**
 * A config file that does not parse or does not validate. `message` is the first problem;
 * `problems` holds every one, each a single line starting with the file's name, so
 * `orchestra config validate` can list them all.
 */
export class ConfigError extends OrchestraError {
  readonly problems: string[];

  /**
   * @param problems one line per problem, at least one; the first becomes the message
   * @param hint what to do next
   */
  constructor(problems: string[], hint: string) {
    super('CONFIG_INVALID', problems[0] ?? 'invalid configuration', { hint });
    this.name = 'ConfigError';
    this.problems = problems.length > 0 ? problems : [this.message];
  }
}
