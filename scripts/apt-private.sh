#!/usr/bin/env bash
# Helpers to fetch single .deb files from a Debian suite the machine may not
# have configured (bookworm-security, bookworm-backports, or another
# architecture), without touching the machine's own apt configuration. The
# mirror URI is read from the machine's /etc/apt at run time: the security
# archive's for a *-security suite, the main archive's otherwise.
#
# usage: apt-private.sh DESTDIR SUITE ARCH PACKAGE...
#        apt-private.sh --candidate SUITE ARCH PACKAGE   (print the newest version)
set -euo pipefail

candidate=0
if [ "${1:-}" = --candidate ]; then
	candidate=1
	shift
	set -- /nonexistent "$@"
fi
dest=$1 suite=$2 arch=$3
shift 3

want_security=0
case $suite in *-security) want_security=1 ;; esac
uri=$(awk -v sec=$want_security '
	/^URIs:/ { u = $2 }
	/^Suites:/ { if (u != "" && (($0 ~ /security/) == sec)) { print u; exit } }
' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
if [ -z "$uri" ]; then
	uri=$(awk -v sec=$want_security '$1 == "deb" && (($0 ~ /security/) == sec) { print $2; exit }' \
		/etc/apt/sources.list 2>/dev/null || true)
fi
if [ -z "$uri" ] && [ $want_security = 1 ]; then
	# no security entry: the security archive sits beside the main one
	main=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null ||
		awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
	[ -n "$main" ] && uri=${main%/}-security
fi
if [ -z "$uri" ]; then
	echo "apt-private: no Debian mirror URI found in /etc/apt" >&2
	exit 1
fi

state=${BKEY_JIT_CACHE:-$HOME/.cache/bkey-jit}/apt/$suite-$arch
mkdir -p "$state/lists/partial" "$state/archives/partial"
[ $candidate = 1 ] || mkdir -p "$dest"
echo "deb [arch=$arch] $uri $suite main" >"$state/sources.list"

opts=(
	-o "Dir::Etc::SourceList=$state/sources.list"
	-o "Dir::Etc::SourceParts=/dev/null"
	-o "Dir::State::Lists=$state/lists"
	-o "Dir::Cache::Archives=$state/archives"
	-o "APT::Architecture=$arch"
	-o "APT::Architectures=$arch"
	-o "Debug::NoLocking=1"
)

if [ ! -e "$state/updated" ] || [ -n "$(find "$state/updated" -mmin +1440)" ]; then
	apt-get "${opts[@]}" update -qq
	touch "$state/updated"
fi
if [ $candidate = 1 ]; then
	apt-cache "${opts[@]}" policy "$1" | awk '/Candidate:/ { print $2 }'
	exit 0
fi
cd "$dest"
apt-get "${opts[@]}" download "$@"
