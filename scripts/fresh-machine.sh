#!/usr/bin/env bash
# Run on demand (never by the tests: it runs the whole test command). The README's two commands,
# exactly as the README writes them, in a fresh clone of this checkout's HEAD, on this machine
# made fresh: inside a private mount namespace over a throwaway overlay of /, pnpm (its global
# install, store and npx cache) and Chromium (the Debian package and its cached .deb) are
# removed, so the run command must fetch pnpm and the test command must fetch Chromium, as on a
# new machine. The real machine keeps everything; the overlay and the clone are deleted at the
# end. PostgreSQL and Redis are this machine's, as the README assumes; the run command gets a
# metadata database, demo database and API port of its own (dropped at the end), and its worker
# the default metrics port, or a free one when another worker on the host holds it.
#
# Needs root (unshare, overlayfs, chroot). Usage: scripts/fresh-machine.sh [--skip-tests]
set -euo pipefail

REPO=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
SKIP_TESTS=0
[ "${1:-}" = "--skip-tests" ] && SKIP_TESTS=1

# The commands as the README writes them: the first line of the sh block under each heading.
readme_command() { awk -v heading="$1" '$0 == heading { found = 1 } found && /^```sh/ { getline; print; exit }' "$REPO/README.md"; }
RUN_COMMAND=$(readme_command "## Run it")
TEST_COMMAND=$(readme_command "## Test it")
[ -n "$RUN_COMMAND" ] && [ -n "$TEST_COMMAND" ] || { echo "could not read the README's commands" >&2; exit 1; }

WORK=$(mktemp -d /var/tmp/capy-fresh.XXXXXX)
TAG=$(basename "$WORK" | tr -dc 'a-zA-Z0-9' | tr 'A-Z' 'a-z')
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export WORK RUN_COMMAND TEST_COMMAND SKIP_TESTS PORT
export DATABASE_URL="postgresql://postgres:postgres@127.0.0.1:5432/${TAG}_meta"
export DEMO_DATABASE_URL="postgresql://postgres:postgres@127.0.0.1:5432/${TAG}_demo"

cleanup() {
  for db in "${TAG}_meta" "${TAG}_demo"; do
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

git clone -q "$REPO" "$WORK/clone"
echo "== fresh clone of $(git -C "$WORK/clone" log --oneline -1)"
echo "== run command:  $RUN_COMMAND"
echo "== test command: $TEST_COMMAND"
mkdir -p "$WORK/upper" "$WORK/overlay-work" "$WORK/root"

# Everything below runs in the private mount namespace: its mounts vanish with it.
unshare --mount --propagation private -- bash -euo pipefail -c '
  ROOT=$WORK/root
  mount -t overlay overlay -o "lowerdir=/,upperdir=$WORK/upper,workdir=$WORK/overlay-work" "$ROOT"
  for dir in proc sys dev; do mount --rbind "/$dir" "$ROOT/$dir"; done
  mkdir -p "$ROOT/fresh" && mount --bind "$WORK/clone" "$ROOT/fresh"
  cp /etc/resolv.conf /etc/hosts "$ROOT/etc/"
  exec chroot "$ROOT" env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    RUN_COMMAND="$RUN_COMMAND" TEST_COMMAND="$TEST_COMMAND" SKIP_TESTS="$SKIP_TESTS" \
    PORT="$PORT" DATABASE_URL="$DATABASE_URL" DEMO_DATABASE_URL="$DEMO_DATABASE_URL" \
    bash /fresh/scripts/fresh-machine-inside.sh
'
