// bash completion for proxsave, generated from the command table.
import { allCommands } from '../src/cli/commands/index.ts';

const GLOBAL = ['-c', '--config', '--root', '--json', '-q', '--quiet', '-v', '--verbose', '--no-color', '-h', '--help', '--version'];

const SUBCOMMANDS: Record<string, string[]> = { config: ['check'], schedule: ['install', 'remove', 'status'], fleet: ['log', 'diff', 'hosts'] };

export async function renderCompletion(): Promise<string> {
  const commands = await allCommands();
  const names = commands.map(([n]) => n);
  const cases = commands
    .map(([n, c]) => {
      // A one-letter option (log's n) is offered as -n only.
      const opts = Object.entries(c.options ?? {}).flatMap(([o, d]) => [...(o.length > 1 ? [`--${o}`] : []), ...((d as { short?: string }).short ? [`-${(d as { short: string }).short}`] : [])]);
      const words = [...(SUBCOMMANDS[n] ?? []), ...opts].join(' ');
      return `    ${n}) words="${words}" ;;`;
    })
    .concat(`    help) words="${names.join(' ')}" ;;`)
    .join('\n');
  names.push('help');
  return `# bash completion for proxsave (generated from its command table)
_proxsave() {
  local cur prev cmd i words
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  case "$prev" in
    -c|--config) COMPREPLY=( $(compgen -f -- "$cur") ); return ;;
    --root|--out) COMPREPLY=( $(compgen -d -- "$cur") ); return ;;
    --target) COMPREPLY=( $(compgen -W "local secondary cloud" -- "$cur") ); return ;;
  esac
  cmd=""
  for (( i=1; i < COMP_CWORD; i++ )); do
    case "\${COMP_WORDS[i]}" in
      -c|--config|--root) (( i++ )) ;;
      -*) ;;
      *) cmd="\${COMP_WORDS[i]}"; break ;;
    esac
  done
  if [[ -z "$cmd" ]]; then
    COMPREPLY=( $(compgen -W "${names.join(' ')} ${GLOBAL.join(' ')}" -- "$cur") )
    return
  fi
  case "$cmd" in
${cases}
    *) words="" ;;
  esac
  COMPREPLY=( $(compgen -W "$words ${GLOBAL.join(' ')}" -- "$cur") )
}
complete -F _proxsave proxsave
`;
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(await renderCompletion());
