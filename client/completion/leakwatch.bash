# SPDX-License-Identifier: GPL-2.0-or-later
# bash completion for leakwatch(1). The words come from leakwatch itself
# (leakwatch __complete): its subcommands, each one's options, and the PIDs, names,
# rules and alert IDs in the database it reads (--db and --runtime-dir as typed).

_leakwatch()
{
        local cur prev words cword
        _init_completion -s 2>/dev/null || {
                cur=${COMP_WORDS[COMP_CWORD]}
                prev=${COMP_WORDS[COMP_CWORD-1]}
                words=("${COMP_WORDS[@]}")
                cword=$COMP_CWORD
        }

        local cmd="" i where=()
        for ((i = 1; i < cword; i++)); do
                case ${words[i]} in
                --db|--runtime-dir)
                        where+=("${words[i]}" "${words[i+1]}"); ((i++)) ;;
                --db=*|--runtime-dir=*)
                        where+=("${words[i]}") ;;
                --since|--until|--window|--limit|--metric|--output|--output-file|--size|--height|--file|--boot|\
                --sort|--memory-limit|--rule|--interval|--db-out|-S|-U|-w|-n|-m|-o)
                        ((i++)) ;;
                -*) ;;
                *)
                        if [[ -z $cmd ]]; then
                                cmd=${words[i]}
                                # After run's command, the words are that command's.
                                if [[ $cmd == run ]]; then
                                        [[ ${words[i+1]} == -- && i+1 -lt cword ]] && ((i++))
                                        _command_offset $((i + 1)) 2>/dev/null
                                        return
                                fi
                        fi ;;
                esac
        done

        case $prev in
        -m|--metric)
                COMPREPLY=($(compgen -W "$(leakwatch __complete metrics 2>/dev/null)" -- "$cur")); return ;;
        --sort)
                COMPREPLY=($(compgen -W "$(leakwatch __complete sort 2>/dev/null)" -- "$cur")); return ;;
        -o|--output)
                COMPREPLY=($(compgen -W "$(leakwatch __complete formats 2>/dev/null)" -- "$cur")); return ;;
        --color|--colour)
                COMPREPLY=($(compgen -W "auto always never" -- "$cur")); return ;;
        --db|--db-out|--output-file|-f|--file|--runtime-dir)
                [[ $prev == -f && $cmd != backtest ]] || { _filedir 2>/dev/null || COMPREPLY=($(compgen -f -- "$cur")); return; } ;;
        -S|--since|-U|--until|-w|--window|-n|--limit|--size|--height|--boot|--memory-limit|--rule|--interval)
                return ;;
        esac

        if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$(leakwatch __complete options $cmd 2>/dev/null)" -- "$cur"))
                [[ ${COMPREPLY-} == *= ]] && compopt -o nospace 2>/dev/null
                return
        fi
        case $cmd in
        "")
                COMPREPLY=($(compgen -W "$(leakwatch __complete commands 2>/dev/null | cut -f1)" -- "$cur")) ;;
        help)
                COMPREPLY=($(compgen -W "$(leakwatch __complete commands 2>/dev/null | cut -f1)" -- "$cur")) ;;
        show|export|plot|backtest)
                COMPREPLY=($(compgen -W "$(leakwatch "${where[@]}" __complete targets 2>/dev/null)" -- "$cur")) ;;
        watch|unwatch)
                COMPREPLY=($(compgen -W "$(leakwatch "${where[@]}" __complete pids 2>/dev/null)" -- "$cur")) ;;
        alerts)
                COMPREPLY=($(compgen -W "$(leakwatch "${where[@]}" __complete alerts 2>/dev/null)" -- "$cur")) ;;
        esac
}
complete -F _leakwatch leakwatch
