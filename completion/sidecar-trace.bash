# bash completion for sidecar-trace(1)                     -*- shell-script -*-
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The options, and which of them take an argument, are read from
# `sidecar-trace --help` each time (a millisecond), so this file never
# lags behind the program.  Pod names and namespaces come from
# `sidecar-trace --list` (columns NAMESPACE NAME PID BACKEND MODE INTERCEPTION under a
# header line); that needs root, and completes nothing without it.
# Works with and without the bash-completion package.
# shellcheck disable=SC2207 # as bash-completion does: the words have no blanks

# Print "WORD ARG" per option of --help ("-" when it takes no argument).
_sidecar_trace_options()
{
	"$1" --help 2>/dev/null | awk '
		/^Examples:/ { exit }
		/^  (-[A-Za-z0-9], |    )--[a-z0-9-]+/ {
			line = $0; sub(/^ +/, "", line)
			short = ""
			if (line ~ /^-[A-Za-z0-9], /) {
				short = substr(line, 1, 2); line = substr(line, 5)
			}
			n = split(line, w, " ")
			arg = "-"
			if (n >= 2 && w[2] ~ /^[A-Z][A-Z0-9_|.]*$/) arg = w[2]
			print w[1], arg
			if (short != "") print short, arg
		}'
}

# Column $2 of --list (1: namespace, 2: name), names in namespace $3 only
# when $3 is not empty.
_sidecar_trace_pods()
{
	"$1" --list 2>/dev/null | awk -v col="$2" -v ns="$3" '
		$1 == "NAMESPACE" && $3 == "PID" { next }
		NF >= 3 && (ns == "" || $1 == ns) { print $col }' | sort -u
}

_sidecar_trace_files()
{
	if declare -F _filedir >/dev/null; then
		_filedir
	else
		local IFS=$'\n'
		COMPREPLY=($(compgen -f -- "$cur"))
		compopt -o filenames 2>/dev/null
	fi
}

_sidecar_trace()
{
	local cur prev words cword split=false
	if declare -F _init_completion >/dev/null; then
		_init_completion -s || return
	else
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
		# --opt=value: complete the value of --opt.
		if [[ $cur == --*=* ]]; then
			prev=${cur%%=*}
			cur=${cur#*=}
			split=true
		elif [[ $cur == = && $prev == --* ]]; then
			cur=
			split=true
		fi
	fi

	local prog=${words[0]} opts arg ns="" i
	prog=$(type -P -- "$prog" 2>/dev/null || printf '%s' "$prog")
	opts=$(_sidecar_trace_options "$prog")
	[[ -n $opts ]] || return 0

	# Which argument does the previous word take, if any?
	arg=$(awk -v o="$prev" '$1 == o { print $2; exit }' <<<"$opts")
	if [[ -n $arg && $arg != - ]]; then
		case $prev in
		--pod | -p)
			for ((i = 1; i < cword; i++)); do
				case ${words[i]} in
				--namespace | -n) ns=${words[i + 1]} ;;
				--namespace=*) ns=${words[i]#*=} ;;
				esac
			done
			COMPREPLY=($(compgen -W "$(_sidecar_trace_pods "$prog" 2 "$ns")" -- "$cur"))
			;;
		--namespace | -n)
			COMPREPLY=($(compgen -W "$(_sidecar_trace_pods "$prog" 1 "")" -- "$cur"))
			;;
		--netns)
			# self, a name under /var/run/netns, or any path.
			if [[ $cur != */* ]]; then
				COMPREPLY=($(compgen -W "self $(command ls /var/run/netns 2>/dev/null)" -- "$cur"))
			fi
			if [[ ${#COMPREPLY[@]} -eq 0 ]]; then
				_sidecar_trace_files
			fi
			;;
		--pid)
			COMPREPLY=($(compgen -W "$(command ls /proc 2>/dev/null | grep -E '^[0-9]+$')" -- "$cur"))
			;;
		--instrument)
			COMPREPLY=($(compgen -W "minimal full" -- "$cur"))
			;;
		--envoy-log)
			# A log file, or "auto" (the --pod target's istio-proxy log).
			_sidecar_trace_files
			COMPREPLY+=($(compgen -W auto -- "$cur"))
			;;
		*)
			# FILE, PATH, DIR: files; numbers and specs: nothing.
			case $arg in
			FILE | PATH | DIR | *FILE* | *PATH*) _sidecar_trace_files ;;
			esac
			;;
		esac
		return 0
	fi
	$split && return 0

	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(awk '{ print $1 }' <<<"$opts")" -- "$cur"))
	fi
	return 0
} &&
	complete -F _sidecar_trace sidecar-trace

# ex: filetype=sh
