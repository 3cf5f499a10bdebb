import { type ParseEntry, parse } from 'shell-quote';

/**
 * The bash policy of read-only profiles (architect, reviewer): a command runs only when every
 * simple command in it is on an allow-list of commands that read, with no redirection into files,
 * no command substitution and no backgrounding. This is a guard against a model's mistakes, not a
 * sandbox: with Docker the worktree of a read-only profile is also mounted read-only.
 */

/** Commands that only read files or print; each may be restricted further below. */
const READ_COMMANDS = new Set([
  'cat',
  'head',
  'tail',
  'less',
  'ls',
  'tree',
  'pwd',
  'cd',
  'echo',
  'printf',
  'wc',
  'grep',
  'egrep',
  'fgrep',
  'rg',
  'find',
  'stat',
  'file',
  'du',
  'diff',
  'cmp',
  'sort',
  'uniq',
  'cut',
  'tr',
  'nl',
  'column',
  'basename',
  'dirname',
  'realpath',
  'readlink',
  'which',
  'true',
  'false',
  'test',
  'jq',
  'sed',
  'git',
  'date',
  'whoami',
  'uname',
  'env',
  'od',
  'xxd',
  'hexdump',
  'md5sum',
  'sha1sum',
  'sha256sum',
]);

/** git subcommands that read; `branch`, `tag` and `remote` only when they list. */
const GIT_READ_SUBCOMMANDS = new Set([
  'status',
  'log',
  'diff',
  'show',
  'ls-files',
  'ls-tree',
  'grep',
  'blame',
  'rev-parse',
  'rev-list',
  'describe',
  'shortlog',
  'cat-file',
  'merge-base',
  'name-rev',
  'branch',
  'tag',
  'remote',
]);

/** Options under which `git branch` and `git tag` only list. */
const LISTING_OPTIONS = new Set([
  '-a',
  '-r',
  '-v',
  '-vv',
  '-l',
  '--list',
  '--all',
  '--remotes',
  '--show-current',
]);

/** Options of `find` that run commands or write files. */
const FIND_WRITES = new Set([
  '-exec',
  '-execdir',
  '-ok',
  '-okdir',
  '-delete',
  '-fprint',
  '-fprint0',
  '-fprintf',
  '-fls',
]);

/** Redirections that only merge or discard output; every other one could write a file. */
const HARMLESS_REDIRECTIONS = /(?:^|\s)(?:[12]?>\s*\/dev\/null|2>&1|>&2|1>&2)(?=\s|$|[;|&])/g;

/** What a refusal says about the rules, so the model can rephrase instead of retrying. */
const RULES =
  'read-only profile: bash may only run commands that read (ls, cat, grep, find, git log/diff/show, ...), without redirection into files, command substitution or background jobs';

/**
 * Why `command` may not run under a read-only profile, or undefined when it may.
 *
 * @param command the bash tool's `command` input
 * @returns a one-line reason for the model (it goes back as an `is_error` tool result)
 */
export function readOnlyViolation(command: string): string | undefined {
  if (/`|\$\(|<\(|>\(/.test(command)) return `${RULES}; command substitution is not allowed`;
  const stripped = command.replace(HARMLESS_REDIRECTIONS, ' ');
  // Variables stay literal: the policy judges the text the model wrote, not this process's env.
  const entries = parse(stripped, (name) => `$${name}`) as ParseEntry[];
  let words: string[] = [];
  const commands: string[][] = [];
  for (const entry of entries) {
    if (typeof entry === 'string') {
      words.push(entry);
      continue;
    }
    if ('comment' in entry) break;
    if (entry.op === 'glob') {
      words.push(entry.pattern);
      continue;
    }
    if (entry.op === '|' || entry.op === '||' || entry.op === '&&' || entry.op === ';') {
      commands.push(words);
      words = [];
      continue;
    }
    if (entry.op === '&') return `${RULES}; background jobs (&) are not allowed`;
    if (entry.op === '(' || entry.op === ')') return `${RULES}; subshells are not allowed`;
    return `${RULES}; the redirection "${entry.op}" is not allowed`;
  }
  commands.push(words);
  for (const argv of commands) {
    if (argv.length === 0) continue;
    const reason = commandViolation(argv);
    if (reason !== undefined) return `${RULES}; ${reason}`;
  }
  return undefined;
}

function commandViolation(argv: string[]): string | undefined {
  const [name, ...args] = argv as [string, ...string[]];
  if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(name)) return `variable assignments ("${name}") are not allowed`;
  if (!READ_COMMANDS.has(name)) return `"${name}" is not an allowed command`;
  switch (name) {
    case 'env':
      // `env` with arguments runs a command.
      return args.length === 0 ? undefined : '"env" may only print the environment';
    case 'find': {
      const bad = args.find((arg) => FIND_WRITES.has(arg));
      return bad === undefined ? undefined : `find ${bad} is not allowed`;
    }
    case 'sort':
      if (args.some((arg) => arg.startsWith('--compress-program')))
        return 'sort --compress-program runs a program';
      return args.some((arg) => arg === '-o' || arg.startsWith('--output') || /^-[a-zA-Z]*o/.test(arg))
        ? 'sort -o writes a file'
        : undefined;
    case 'uniq':
      // `uniq IN OUT` writes OUT.
      return args.filter((arg) => !arg.startsWith('-')).length > 1 ? 'uniq with an output file' : undefined;
    case 'sed':
      return sedViolation(args);
    case 'rg':
      // --pre runs a program on every file searched.
      return args.some((arg) => arg === '--pre' || arg.startsWith('--pre='))
        ? 'rg --pre runs commands'
        : undefined;
    case 'tree':
      return args.includes('-o') ? 'tree -o writes a file' : undefined;
    case 'xxd':
      // `xxd IN OUT` writes OUT.
      return args.filter((arg) => !arg.startsWith('-')).length > 1 ? 'xxd with an output file' : undefined;
    case 'git':
      return gitViolation(args);
    default:
      return undefined;
  }
}

function sedViolation(args: string[]): string | undefined {
  if (args.some((arg) => arg.startsWith('-i') || arg.startsWith('--in-place') || /^-[a-zA-Z]*i/.test(arg))) {
    return 'sed -i edits files';
  }
  // The w and e commands (and the s///w flag) write files or run commands from inside the script.
  const writes = /(?:^|[;{}\n])\s*(?:\d+|\$|\/[^/]*\/)?\s*!?\s*[wWe](?:\s|$)|s(.).*\1.*\1[gpiIm0-9]*[we]/;
  return args.some((arg) => !arg.startsWith('-') && writes.test(arg))
    ? 'sed scripts may not use the w or e commands'
    : undefined;
}

function gitViolation(args: string[]): string | undefined {
  let rest = args;
  while (rest[0] === '--no-pager' || rest[0] === '-P') rest = rest.slice(1);
  const [sub, ...subArgs] = rest;
  if (sub === undefined) return undefined;
  if (sub.startsWith('-')) return `git option "${sub}" is not allowed before the subcommand`;
  if (!GIT_READ_SUBCOMMANDS.has(sub)) return `"git ${sub}" is not a read-only git command`;
  if (subArgs.some((arg) => arg === '--output' || arg.startsWith('--output=') || arg === '-o')) {
    return `git ${sub} may not write an output file`;
  }
  // `git grep -O<cmd>` runs <cmd> on the files it found; an external diff or textconv driver runs
  // what the repository's config names.
  const runs = subArgs.find(
    (arg) =>
      (sub === 'grep' && (arg.startsWith('-O') || arg.startsWith('--open-files-in-pager'))) ||
      arg === '--ext-diff' ||
      arg === '--textconv',
  );
  if (runs !== undefined) return `git ${sub} ${runs} runs a program`;
  const positional = subArgs.filter((arg) => !arg.startsWith('-'));
  if (sub === 'branch' || sub === 'tag') {
    const options = subArgs.filter((arg) => arg.startsWith('-'));
    const lists = options.includes('-l') || options.includes('--list');
    if (options.some((arg) => !LISTING_OPTIONS.has(arg)) || (positional.length > 0 && !lists)) {
      return `git ${sub} may only list`;
    }
  }
  if (
    sub === 'remote' &&
    (positional.length > 0 || subArgs.some((arg) => arg !== '-v' && arg !== '--verbose'))
  ) {
    return 'git remote may only list';
  }
  return undefined;
}
