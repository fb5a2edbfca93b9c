#!/usr/bin/env bash
# The second half of scripts/fresh-machine.sh, run by it inside its throwaway root (never on the
# real machine): removes pnpm and Chromium, then runs the README's run command (waits for the
# printed key, takes a backup through the API with it, stops it with Ctrl-C as a user would) and
# its test command, in /fresh (the fresh clone).
set -euo pipefail
[ -d /fresh ] && [ -n "${RUN_COMMAND:-}" ] || { echo "run scripts/fresh-machine.sh instead" >&2; exit 1; }

log() { printf '\n== %s\n' "$*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }
wait_for() { # wait_for <seconds> <what> <command…>
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "timed out waiting for $what"
    sleep 1
  done
}

log "making this root fresh: no pnpm, no Chromium"
rm -rf /usr/lib/node_modules/pnpm /usr/bin/pnpm /usr/bin/pnpx /usr/local/bin/pnpm /usr/local/bin/pnpx \
  /root/.local/share/pnpm /root/.cache/pnpm /root/.npm/_npx
DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq chromium >/dev/null 2>&1
apt-get clean
if command -v pnpm >/dev/null; then fail "pnpm is still on PATH"; fi
[ ! -e /usr/bin/chromium ] || fail "chromium is still installed"
echo "node $(node --version), npm $(npm --version); pnpm: $(command -v pnpm || echo none); chromium: $(command -v chromium || echo none)"

cd /fresh
API="http://127.0.0.1:$PORT"
log "run command: $RUN_COMMAND (PORT=$PORT)"
setsid bash -c "$RUN_COMMAND" >/tmp/run.log 2>&1 &
RUN_SESSION=$!
stop_run() { pkill -INT -s "$RUN_SESSION" 2>/dev/null || true; }
trap stop_run EXIT
wait_for 900 "the run command to print the API key" grep -q "API key" /tmp/run.log
wait_for 60 "the API to answer" curl -sf "$API/healthz"
KEY=$(grep -o 'capy_live_[A-Za-z0-9_]*' /tmp/run.log | head -1)
PROJECT=$(grep -o 'prj_[A-Za-z0-9]*' /tmp/run.log | head -1)
echo "install output, warnings and notices (none expected):"
grep -E 'WARN|Unsupported engine|awaiting approval|ERR_' /tmp/run.log || echo "  (none)"
grep -E '^Done in|^Capy Backups is starting|worker ready|metrics port' /tmp/run.log | sed 's/^/  /'

JOB=$(curl -sf -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d '{"label":"fresh-machine"}' \
  "$API/v1/projects/$PROJECT/backups" | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).job.id')
job_state() { curl -sf -H "Authorization: Bearer $KEY" "$API/v1/jobs/$JOB" | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).job.state'; }
job_done() { [[ "$(job_state)" =~ ^(completed|failed|canceled)$ ]]; }
wait_for 300 "backup job $JOB to finish" job_done
[ "$(job_state)" = completed ] || fail "backup job $JOB ended $(job_state)"
echo "backup job $JOB: completed"
echo "GET /docs: $(curl -s -o /dev/null -w '%{http_code} Location: %{redirect_url}' "$API/docs")"
echo "requests as logged (one line each):"
grep -E '(GET|POST) /(v1|docs)' /tmp/run.log | sed 's/\x1b\[[0-9;]*m//g; s/^/  /' | head -5

log "stopping the run command with Ctrl-C"
stop_run
wait "$RUN_SESSION" || true
trap - EXIT
tail -3 /tmp/run.log | sed 's/\x1b\[[0-9;]*m//g; s/^/  /'

if [ "$SKIP_TESTS" = 1 ]; then log "tests skipped (--skip-tests)"; exit 0; fi
log "test command: $TEST_COMMAND"
env -u DATABASE_URL -u DEMO_DATABASE_URL -u PORT bash -c "$TEST_COMMAND" 2>&1 | tee /tmp/test.log | grep -vE '^\s*(✓|↓)|^$'
echo "chromium after the test command: $(command -v chromium || echo none)"
