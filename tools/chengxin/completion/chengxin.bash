# bash completion for chengxin (installed as share/bash-completion/completions/chengxin).
# Completes the subcommand, then the options of that subcommand (read from its --help, so the
# list cannot drift from the binary), --format and --role values, and file names elsewhere.

_chengxin() {
  local cur prev words cword
  if declare -F _init_completion >/dev/null 2>&1; then
    _init_completion || return
  else
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    words=("${COMP_WORDS[@]}")
    cword=$COMP_CWORD
  fi
  local cmds=" gen init info import load-catalog load-calendar load-regions load-scorecard
    upgrade verify export restore backup compact prune-checks debug status records check search agg
    scorecard feedback repair revoke reinstate objection audit stats help"
  if [ "$cword" -eq 1 ]; then
    COMPREPLY=($(compgen -W "$cmds --help --version" -- "$cur"))
    return
  fi
  case $prev in
  --format) COMPREPLY=($(compgen -W "table csv json jsonl xlsx" -- "$cur")); return ;;
  --role) COMPREPLY=($(compgen -W "public approval analyst submitter admin" -- "$cur")); return ;;
  --part) COMPREPLY=($(compgen -W "entity counts" -- "$cur")); return ;;
  --by) COMPREPLY=($(compgen -W "province city county authority category subtype domain severity kind status year quarter month" -- "$cur")); return ;;
  --action) COMPREPLY=($(compgen -W "procurement bidding subsidy honour appointment license bond land tax_incentive ppp investment" -- "$cur")); return ;;
  --db | --file | --plot | --out | --token-file | --mapping) COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  if [[ $cur == -* ]]; then
    local opts
    opts=$("${words[0]}" "${words[1]}" --help 2>&1 | grep -o -- '--[a-z][a-z-]*' | sort -u)
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    return
  fi
  COMPREPLY=($(compgen -f -- "$cur"))
}
complete -F _chengxin chengxin
