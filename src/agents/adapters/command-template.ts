import { parse } from 'shell-quote';
import { OrchestraError } from '../../common/errors.js';

/**
 * Turns a command line from the config into argv without ever running a shell: split with
 * shell-quote's `parse` (quotes and backslashes as in sh), then fill `{task_file}`, `{prompt}` and
 * `{run_dir}` inside the split words. A placeholder's value is inserted after splitting, so quotes,
 * spaces, `;` or `$(...)` in a prompt stay text inside one argv element and cannot inject anything.
 */

/** Values for the placeholders of `COMMAND_PLACEHOLDERS` (config/schema.ts). */
export interface TemplateValues {
  task_file?: string;
  prompt?: string;
  run_dir?: string;
}

/** The same `{word}` rule as the config schema: not preceded by `$`, so `${VAR}` is not a placeholder. */
const PLACEHOLDER = /(?<!\$)\{([a-z_]+)\}/g;

function invalid(template: string, why: string, hint: string): OrchestraError {
  return new OrchestraError('CONFIG_INVALID', `agent command "${template}" ${why}`, { hint });
}

/**
 * Splits `template` into argv and fills its placeholders.
 *
 * @param values placeholder values; a placeholder without a value is an error
 * @throws OrchestraError CONFIG_INVALID for shell operators (`|`, `&&`, `>`...), unquoted or
 *   double-quoted `$VAR` expansions, unknown or unfilled placeholders, or an empty command
 */
export function commandFromTemplate(template: string, values: TemplateValues = {}): string[] {
  const variables: string[] = [];
  const words = parse(template, (key: string) => {
    variables.push(key);
    return '';
  });
  if (variables.length > 0) {
    throw invalid(
      template,
      `expands $${variables[0]}, but agents are started without a shell`,
      `set the value under the agent's "env", or wrap the command in sh -c '...'`,
    );
  }
  const argv: string[] = [];
  for (const word of words) {
    if (typeof word === 'string') {
      argv.push(fill(template, word, values));
    } else if ('comment' in word) {
      // A trailing `# ...` in the config is a note for people.
    } else if (word.op === 'glob') {
      // No shell, no globbing: the pattern reaches the program as written.
      argv.push(fill(template, word.pattern, values));
    } else {
      throw invalid(
        template,
        `uses the shell operator "${word.op}", but agents are started without a shell`,
        `wrap the command in sh -c '...' if it needs a shell`,
      );
    }
  }
  if (argv.length === 0 || argv[0] === '') {
    throw invalid(
      template,
      'names no program',
      'give the program to run first, e.g. "my-agent --task {task_file}"',
    );
  }
  return argv;
}

function fill(template: string, word: string, values: TemplateValues): string {
  // One pass with a replacer function: a value containing "{run_dir}" or "$&" is inserted as is.
  return word.replace(PLACEHOLDER, (whole: string, name: string) => {
    const value = Object.hasOwn(values, name) ? values[name as keyof TemplateValues] : undefined;
    if (value === undefined) {
      throw invalid(
        template,
        `uses ${whole}, which is not available here`,
        Object.keys(values).length > 0
          ? `placeholders: ${Object.keys(values)
              .map((k) => `{${k}}`)
              .join(', ')}`
          : 'only the "custom" agent type fills placeholders',
      );
    }
    return value;
  });
}
