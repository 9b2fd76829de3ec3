#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, serves the demo site
# (jobs/demo-site) on loopback and runs jobs/demo.json on the local backend. Extra arguments go
# to `crawlrun run` (for example --max-tasks 1). DEMO_PORT picks another port than 8080.
#
#   bash scripts/demo.sh --backend docker   the same job as containers on a Docker Engine API:
#     with DOCKER_HOST unset, podman's (scripts/podman.sh up: installs podman, runc and
#     debootstrap, builds the images offline, starts the service; stopped again at the end), the
#     images tagged as the job names them (crawlrun/crawler:latest, crawlrun/sidecar:latest);
#     with DOCKER_HOST set, that engine, which must have those images (README, "Images").
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
backend=local
previous=
for arg in "$@"; do
    case "$previous=$arg" in --backend=docker | *=--backend=docker) backend=docker ;; esac
    previous=$arg
done
scripts/setup.sh
echo "demo: building (release)…"
swift build -c release --static-swift-stdlib -Xlinker -no-pie 2>&1 | grep -E "error|warning: unre|Compiling|Build complete" | tail -n 3
bin=.build/release
podman_started=

port="${DEMO_PORT:-8080}"
job=jobs/demo.json
work=$(mktemp -d)
site=
# Stop the site on every way out (end, error, Ctrl-C, kill) and wait until it has gone, so the
# port is free for the next run: SIGTERM, up to 5 s, then SIGKILL.
cleanup() {
    if [ -n "$site" ]; then
        kill -TERM "$site" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$site" 2>/dev/null || break
            sleep 0.05
        done
        kill -KILL "$site" 2>/dev/null || true
        wait "$site" 2>/dev/null || true
    fi
    rm -rf "$work"
    if [ -n "$podman_started" ]; then scripts/podman.sh down; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
if [ "$backend" = docker ] && [ -z "${DOCKER_HOST:-}" ]; then
    echo "demo: setting up podman's Docker Engine API and the images (the first time takes a few minutes)…"
    podman_env=$(scripts/podman.sh up)
    eval "$podman_env"
    podman_started=1
    # The names jobs/demo.json gives its images, as `docker build -t …` in the README would.
    sudo_=()
    [ "$(id -u)" -eq 0 ] || sudo_=(sudo)
    "${sudo_[@]}" podman tag "localhost/crawlrun-crawler:$CRAWLRUN_IMAGE_TAG" crawlrun/crawler:latest
    "${sudo_[@]}" podman tag "localhost/crawlrun-sidecar:$CRAWLRUN_IMAGE_TAG" crawlrun/sidecar:latest
fi
"$bin/fixture-site" --root jobs/demo-site --port "$port" >"$work/site.out" 2>&1 &
site=$!
# The site prints its base URL once it listens (or an error and exits).
for _ in $(seq 200); do
    [ -s "$work/site.out" ] && break
    kill -0 "$site" 2>/dev/null || break
    sleep 0.05
done
base=$(head -n 1 "$work/site.out" || true)
case "$base" in
http://*) ;;
*)
    echo "demo: cannot serve the demo site on port $port: $(cat "$work/site.out")" >&2
    echo "demo: set DEMO_PORT to a free port, e.g. DEMO_PORT=18080 $0" >&2
    exit 1
    ;;
esac
if [ "$port" != 8080 ]; then
    # The job's URL list names port 8080: run a copy that names this one.
    sed "s#127.0.0.1:8080#127.0.0.1:$port#g" jobs/demo-urls.txt >"$work/demo-urls.txt"
    cp jobs/demo.json "$work/demo.json"
    job="$work/demo.json"
fi
echo "demo: serving jobs/demo-site on $base; running $job"
set +e
"$bin/crawlrun" run "$job" "$@"
code=$?
set -e
if [ "$code" -eq 1 ]; then
    echo "demo: done. One URL (products/25.html) does not exist on purpose, to show how failures are reported."
    exit 0
fi
exit "$code"
