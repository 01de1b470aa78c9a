#!/usr/bin/env bash
# Prints the path of the SeaweedFS `weed` binary the S3 tests run (a real
# S3-compatible server, Apache-2.0), building it first if it is not cached.
#
# The version is pinned in scripts/weed.version. `go install …/weed@version`
# is refused (SeaweedFS's go.mod has replace directives), so the module's
# source is taken from the Go module cache, copied somewhere writable and
# built there, once per version, into
#   ${SPX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spx}/weed-<version>
# (about 5 minutes on two cores, a 230 MB binary). Later runs reuse it.
#
#   scripts/weed.sh            # build if needed, print the binary's path
#   SPX_WEED=/path/weed ...    # the tests use that binary instead
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(tr -d '[:space:]' < scripts/weed.version)
cache=${SPX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spx}
bin="$cache/weed-$version"
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
mkdir -p "$cache"
echo "weed: building SeaweedFS $version into $bin (once; about 5 minutes)" >&2
# Outside this module, so go.mod's -mod settings do not apply to it.
src=$(cd / && GOFLAGS= go mod download -json "github.com/seaweedfs/seaweedfs@$version" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
if [ -z "$src" ] || [ ! -d "$src" ]; then
  echo "weed: go mod download of github.com/seaweedfs/seaweedfs@$version gave no source directory" >&2
  exit 1
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/spx-weed-build.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -R "$src" "$work/src"
chmod -R u+w "$work/src"
start=$(date +%s)
(cd "$work/src" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$work/weed" ./weed)
"$work/weed" version >/dev/null
mv "$work/weed" "$bin.tmp.$$"
mv "$bin.tmp.$$" "$bin"
echo "weed: built in $(( $(date +%s) - start ))s" >&2
echo "$bin"
