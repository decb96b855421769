#!/usr/bin/env bash
# Helpers to fetch single .deb files from a Debian suite the machine does not
# have configured (bookworm-backports, or another architecture), without
# touching the machine's own apt configuration. The mirror URI is read from
# the machine's /etc/apt/sources.list.d/*.sources at run time.
#
# usage: apt-private.sh DESTDIR SUITE ARCH PACKAGE...
set -euo pipefail

dest=$1 suite=$2 arch=$3
shift 3

uri=$(awk '
	/^URIs:/ { u = $2 }
	/^Suites:/ { if (u != "" && $0 !~ /security/) { print u; exit } }
' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
if [ -z "$uri" ]; then
	uri=$(awk '$1 == "deb" && $0 !~ /security/ { print $2; exit }' \
		/etc/apt/sources.list 2>/dev/null || true)
fi
if [ -z "$uri" ]; then
	echo "apt-private: no Debian mirror URI found in /etc/apt" >&2
	exit 1
fi

state=${BKEY_JIT_CACHE:-$HOME/.cache/bkey-jit}/apt/$suite-$arch
mkdir -p "$state/lists/partial" "$state/archives/partial" "$dest"
echo "deb [arch=$arch] $uri $suite main" > "$state/sources.list"

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
cd "$dest"
apt-get "${opts[@]}" download "$@"
