#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, serves the demo site
# (jobs/demo-site) on loopback and runs jobs/demo.json on the local backend. Extra arguments go
# to `crawlrun run` (for example --max-tasks 1). DEMO_PORT picks another port than 8080.
#
#   bash scripts/demo.sh --backend docker   the same job as containers on a Docker Engine API,
#     and it says which engine it used:
#     - DOCKER_HOST set: that engine, which must have the job's images (README, "Images");
#     - else Docker Engine when one answers on /var/run/docker.sock, else Docker Engine started
#       privately when dockerd is installed (scripts/docker-engine.sh; stopped at the end), else
#       podman's (scripts/podman.sh; installs podman, runc and debootstrap; stopped at the end).
#       DEMO_ENGINE=docker or DEMO_ENGINE=podman picks one. The images are built offline
#       (images/build-offline.sh, with podman), loaded into Docker Engine, and tagged as the job
#       names them (crawlrun/crawler:latest, crawlrun/sidecar:latest).
#
# The demo's own counts: jobs/demo-urls.txt holds EXPECT_OK pages that exist and EXPECT_FAILED
# that do not (on purpose). A run that ends with other counts is reported, with exit 1.
set -euo pipefail
cd "$(dirname "$0")/.."
# Change these with jobs/demo-urls.txt and jobs/demo-site.
EXPECT_OK=28
EXPECT_FAILED=1
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
docker_started=

work=$(mktemp -d)
# shellcheck source=scripts/demo-site.sh
. scripts/demo-site.sh
# Stop the site on every way out (end, error, Ctrl-C, kill) and wait until it has gone, so the
# port is free for the next run: SIGTERM, up to 5 s, then SIGKILL.
cleanup() {
    if [ -n "$demo_site_pid" ]; then
        kill -TERM "$demo_site_pid" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$demo_site_pid" 2>/dev/null || break
            sleep 0.05
        done
        kill -KILL "$demo_site_pid" 2>/dev/null || true
        wait "$demo_site_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
    if [ -n "$podman_started" ]; then scripts/podman.sh down; fi
    if [ -n "$docker_started" ]; then scripts/docker-engine.sh down; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
# The names jobs/demo.json gives its images, as `docker build -t …` in the README would.
tag_images() {
    "$@" tag "localhost/crawlrun-crawler:$CRAWLRUN_IMAGE_TAG" crawlrun/crawler:latest
    "$@" tag "localhost/crawlrun-sidecar:$CRAWLRUN_IMAGE_TAG" crawlrun/sidecar:latest
}
sudo_=()
[ "$(id -u)" -eq 0 ] || sudo_=(sudo)
system_docker() { [ "$(curl -s --max-time 2 --unix-socket /var/run/docker.sock http://d/_ping 2>/dev/null)" = OK ]; }
if [ "$backend" = docker ] && [ -n "${DOCKER_HOST:-}" ]; then
    echo "demo: using the engine at DOCKER_HOST=$DOCKER_HOST"
elif [ "$backend" = docker ]; then
    engine="${DEMO_ENGINE:-}"
    if [ -z "$engine" ]; then
        if system_docker || command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ]; then engine=docker; else engine=podman; fi
    fi
    case "$engine" in
    docker)
        if system_docker; then
            echo "demo: using Docker Engine at /var/run/docker.sock; building the images offline and loading them (the first time takes a few minutes)…"
            scripts/podman.sh build
            export DOCKER_HOST=unix:///var/run/docker.sock CRAWLRUN_IMAGE_TAG="dev-$(pwd | sha256sum | cut -c1-8)"
            for image in "localhost/crawlrun-crawler:$CRAWLRUN_IMAGE_TAG" "localhost/crawlrun-sidecar:$CRAWLRUN_IMAGE_TAG"; do
                "${sudo_[@]}" podman save "$image" | "${sudo_[@]}" docker load -q >/dev/null
            done
        else
            echo "demo: using Docker Engine (a private dockerd: scripts/docker-engine.sh; the first time takes a few minutes)…"
            docker_env=$(scripts/docker-engine.sh up)
            eval "$docker_env"
            docker_started=1
            export DOCKER_HOST="$CRAWLRUN_DOCKER_ENGINE_HOST"
        fi
        tag_images "${sudo_[@]}" docker --host "$DOCKER_HOST"
        ;;
    podman)
        echo "demo: using podman's Docker Engine API (scripts/podman.sh; the first time takes a few minutes)…"
        podman_env=$(scripts/podman.sh up)
        eval "$podman_env"
        podman_started=1
        tag_images "${sudo_[@]}" podman
        ;;
    *)
        echo "demo: DEMO_ENGINE must be docker or podman, not $engine" >&2
        exit 64
        ;;
    esac
fi
serve_demo_site demo
echo "demo: serving jobs/demo-site on $base; running $job"
set +e
"$bin/crawlrun" run "$job" "$@" | tee "$work/run.out"
code=${PIPESTATUS[0]}
set -e
[ "$code" -ne 130 ] || exit 130
# The summary line: "✓ run ID finished in 4.2 s: 29 URLs — 28 ok, 1 failed" (colours stripped).
summary=$(sed 's/\x1b\[[0-9;]*m//g' "$work/run.out" | grep -m 1 -E '^. run .* URLs? — ' || true)
ok=$(sed -nE 's/.* — ([0-9]+) ok.*/\1/p' <<<"$summary")
failed=$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$summary")
incomplete=$(sed -nE 's/.* ([0-9]+) without a result.*/\1/p' <<<"$summary")
if [ "$code" -eq 1 ] && [ "${ok:-}" = "$EXPECT_OK" ] && [ "${failed:-0}" = "$EXPECT_FAILED" ]; then
    echo "demo: done. One URL (products/25.html) does not exist on purpose, to show how failures are reported."
    exit 0
fi
expected="$EXPECT_OK ok, $EXPECT_FAILED failed"
echo "demo: the run did not go as the demo should: expected $expected, got ${ok:-no} ok, ${failed:-0} failed, ${incomplete:-0} without a result (crawlrun exit $code)." >&2
echo "demo: the run's report and logs (paths above) say why." >&2
[ "$code" -eq 0 ] && exit 1
exit "$code"
