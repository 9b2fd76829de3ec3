#!/usr/bin/env bash
# podman's Docker Engine API for the Docker tests (../shared/DOCKER-NOTES.md has the measurements
# behind each step). Idempotent; installs and builds only what is missing or stale.
#
#   scripts/podman.sh up             installs podman, runc and debootstrap (apt) when missing,
#                                   builds the offline images (images/build-offline.sh), starts
#                                   `podman system service` unless it already answers, and prints
#                                   the exports: DOCKER_HOST, CONTAINERS_CONF, CRAWLRUN_IMAGE_TAG
#                                   (the test images' tag), and CRAWLRUN_PODMAN_PID when this
#                                   call started the service:
#                                   env=$(scripts/podman.sh up); eval "$env"  (a failure stops a
#                                   `set -e` script there; `eval "$(…)"` would hide it)
#   scripts/podman.sh build          the same installs and images, without the service (for
#                                   scripts/docker-engine.sh, which loads them into Docker Engine)
#   scripts/podman.sh down           stops the service that `up` started ($CRAWLRUN_PODMAN_PID),
#                                   and only that one: a service someone else started stays up
#
# CRAWLRUN_NO_PODMAN=1 makes `up` do nothing (the Docker tests then say why they are skipped).
# scripts/test.sh runs `up` before the tests and `down` when they end, so CI leaves no service
# behind. The service, its socket and containers.conf live in one directory per checkout
# ($CRAWLRUN_PODMAN_DIR, default /tmp/crawlrun-podman-<hash of the checkout's path>), so two
# checkouts on one machine do not stop each other's service; podman's (rootful) image storage is
# shared, so the crawler and sidecar test images are tagged dev-<that hash> per checkout too.
set -euo pipefail
cd "$(dirname "$0")/.."

NAME=podman
# shellcheck source=scripts/engine-common.sh
. scripts/engine-common.sh
DIR="${CRAWLRUN_PODMAN_DIR:-/tmp/crawlrun-podman-$CHECKOUT}"
SOCK="$DIR/podman.sock"
CONF="$DIR/containers.conf"

build() {
    local need=()
    mkdir -p "$DIR"
    command -v podman >/dev/null 2>&1 || need+=(podman)
    command -v runc >/dev/null 2>&1 || [ -x /usr/sbin/runc ] || need+=(runc)
    command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || need+=(debootstrap)
    # curl: the readiness ping below and the health check inside the sidecar image's tests.
    command -v curl >/dev/null 2>&1 || need+=(curl)
    apt_install "$DIR/apt.log" "${need[@]}"

    # default_ulimits: without it every container fails with "error setting rlimit type 7:
    # operation not permitted". exit_command_delay: an exec session's conmon process stays this
    # long after the command ends (podman's default: 300 s, like Docker's exec records); `exec`
    # reads the exit code at once, so 5 s is plenty and no process outlives the tests by minutes.
    printf '[containers]\ndefault_ulimits = []\n[engine]\nexit_command_delay = 5\n' >"$CONF"
    export CONTAINERS_CONF="$CONF"

    CONTAINERS_CONF="$CONF" CRAWLRUN_IMAGE_TAG="$TAG" images/build-offline.sh
}

up() {
    local pid
    if [ "${CRAWLRUN_NO_PODMAN:-0}" = 1 ]; then
        log "CRAWLRUN_NO_PODMAN=1: no Docker API; the Docker tests will say they are skipped"
        return
    fi
    build
    if answers; then
        log "service already answers on $SOCK"
    else
        "${ROOT[@]}" rm -f "$SOCK"
        # setsid: Ctrl-C in the caller's terminal reaches the tests, not the service; `down` stops it.
        # Started in its own directory: conmon writes an empty file `oom` into its working
        # directory when a container is OOM-killed (the memory-limit test does that), which
        # once landed in the checkout and was committed.
        (cd "$DIR" && exec setsid "${ROOT[@]}" env CONTAINERS_CONF="$CONF" podman system service --time=0 \
            "unix://$SOCK" </dev/null >"$DIR/service.log" 2>&1) &
        pid=$!
        for _ in $(seq 1 100); do
            answers && break
            alive "$pid" || { cat "$DIR/service.log" >&2; log "the service exited"; exit 1; }
            sleep 0.1
        done
        answers || { log "no answer on $SOCK after 10 s (see $DIR/service.log)"; exit 1; }
        # Through sudo the socket is root's: let the caller's tests connect.
        [ ${#ROOT[@]} -eq 0 ] || "${ROOT[@]}" chown "$(id -u)" "$SOCK"
        echo "export CRAWLRUN_PODMAN_PID=$pid"
        log "service started on $SOCK (pid $pid)"
    fi
    # DOCKER_HOST for the docker CLI and a `crawlrun` started by hand; CRAWLRUN_PODMAN_HOST is
    # the tests' name for this engine (beside scripts/docker-engine.sh's).
    echo "export DOCKER_HOST=unix://$SOCK CRAWLRUN_PODMAN_HOST=unix://$SOCK CONTAINERS_CONF=$CONF CRAWLRUN_IMAGE_TAG=$TAG"
}

down() {
    NAME="podman service" stop_pid "${CRAWLRUN_PODMAN_PID:-}"
}

case "${1:-}" in
    up) up ;;
    build) build ;;
    down) down ;;
    *)
        echo "usage: env=\$(scripts/podman.sh up); eval \"\$env\"; …; scripts/podman.sh down" >&2
        exit 64
        ;;
esac
