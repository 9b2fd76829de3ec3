#!/usr/bin/env bash
# Runs a job's Fargate path end to end on this machine: `crawlrun run JOB --backend fargate`
# against a rehearsal of Fargate (scripts/rehearsal: moto serving ECS, S3, CloudWatch Logs, IAM and
# STS with signatures and IAM checked, plus an agent that runs every task as local processes).
#   bash scripts/rehearse-fargate.sh            the demo job (jobs/demo.json, its site served as demo.sh does)
#   bash scripts/rehearse-fargate.sh JOB [ARG…]  a job of yours; extra arguments go to `crawlrun run`
#   bash scripts/rehearse-fargate.sh --scheduled [JOB]  the scheduled path (README "Scheduled runs on
#        AWS"): crawlrun schedule, a fire of the schedule (the rehearsal's RunTask as the scheduler's
#        role), the coordinator task running the job on batch tasks, its report on S3 and its event
# The job runs as a copy whose fargate section names the rehearsal's cluster, subnets, security
# group, roles, log group and bucket; crawlrun gets the coordinator user's key, which holds exactly
# the policy `crawlrun iam-policy` prints (ECS/Logs resources widened to "*", as moto needs).
# DEMO_PORT picks another port than 8080 for the demo site; CRAWLRUN_BIN_DIR names built binaries
# to use instead of building a release.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$HOME/.local/bin:$PATH"
CRAWLRUN_NEEDS_MOTO=1 scripts/setup.sh
if [ -n "${CRAWLRUN_BIN_DIR:-}" ]; then
    bin=$(cd "$CRAWLRUN_BIN_DIR" && pwd)
else
    echo "rehearse-fargate: building (release)…"
    swift build -c release --static-swift-stdlib -Xlinker -no-pie 2>&1 | grep -E "error|warning: unre|Compiling|Build complete" | tail -n 3
    bin=$PWD/.build/release
fi

work=$(mktemp -d)
pids=()
# shellcheck source=scripts/demo-site.sh
. scripts/demo-site.sh
cleanup() {
    # The rehearsal stops every task process it started when it gets SIGTERM.
    [ -z "$demo_site_pid" ] || pids+=("$demo_site_pid")
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

demo=0
scheduled=0
if [ "${1:-}" = "--scheduled" ]; then
    scheduled=1
    shift
fi
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    job=$1
    shift
else
    demo=1
    # The demo: its site on loopback, as scripts/demo.sh serves it.
    serve_demo_site rehearse-fargate
    echo "rehearse-fargate: serving jobs/demo-site on $base"
fi

# Its own session: Ctrl-C reaches crawlrun alone, which then stops its tasks through the
# rehearsal (StopTask) as it would on AWS; the trap stops the rehearsal afterwards.
PYTHONPATH=scripts/rehearsal setsid python3 -m rehearsal --crawler "$bin/crawler" >"$work/ready" 2>"$work/rehearsal.log" &
pids+=($!)
ready=$(first_line "$work/ready" "${pids[-1]}")
endpoint=$(printf '%s' "$ready" | python3 -c 'import json, sys; print(json.load(sys.stdin)["endpoint"])' 2>/dev/null) || {
    echo "rehearse-fargate: the rehearsal did not start:" >&2
    cat "$work/rehearsal.log" >&2
    exit 2
}
echo "rehearse-fargate: Fargate rehearsed on $endpoint (its log: $work/rehearsal.log while it runs)"

copy="$work/$(basename "$job" .json)-rehearsal.json"
prepare_args=()
[ "$scheduled" = 0 ] || prepare_args=(--scheduled)
eval "$(PYTHONPATH=scripts/rehearsal python3 -m rehearsal.prepare --endpoint "$endpoint" --crawlrun "$bin/crawlrun" "${prepare_args[@]}" "$job" "$copy")"

if [ "$scheduled" = 1 ]; then
    # shellcheck source=scripts/rehearse-scheduled.sh
    . scripts/rehearse-scheduled.sh
    rehearse_scheduled "$copy"
    exit $?
fi

"$bin/crawlrun" doctor "$copy"
set +e
"$bin/crawlrun" run "$copy" --backend fargate "$@"
code=$?
set -e
if [ "$code" -eq 1 ] && [ "$demo" = 1 ]; then
    echo "rehearse-fargate: done. One URL (products/25.html) does not exist on purpose, to show how failures are reported."
    exit 0
fi
exit "$code"
