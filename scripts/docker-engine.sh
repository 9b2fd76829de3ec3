#!/usr/bin/env bash
# Docker Engine itself (Debian's docker.io) for the Docker tests and the demo, beside podman's copy
# of its API (scripts/podman.sh). ../shared/DOCKER-NOTES.md has the measurements behind each step.
# Idempotent; installs, builds and loads only what is missing or stale.
#
#   scripts/docker-engine.sh up      installs docker.io (dockerd, containerd, runc) when missing,
#                                    builds the offline images with podman (images/build-offline.sh,
#                                    as scripts/podman.sh does; it installs podman and debootstrap
#                                    when missing) and loads into the engine those it lacks
#                                    (`podman save | docker load`), starts a private `dockerd`
#                                    unless it already answers, and prints the exports:
#                                    CRAWLRUN_DOCKER_ENGINE_HOST (the tests' name for it),
#                                    CRAWLRUN_IMAGE_TAG, and CRAWLRUN_DOCKERD_PID when this call
#                                    started the daemon:
#                                    env=$(scripts/docker-engine.sh up); eval "$env"
#   scripts/docker-engine.sh down    removes every container and network on that daemon (only
#                                    tests and demos use it) and stops the daemon `up` started
#                                    ($CRAWLRUN_DOCKERD_PID), and only that one
#
# The daemon is private to the checkout: its socket, data root, exec root, pid file and log live in
# $CRAWLRUN_DOCKER_DIR (default /tmp/crawlrun-docker-<hash of the checkout's path>), it has no
# default bridge (`--bridge=none`: docker0 stays a system daemon's; a container on no network of
# its own has none at all, so nothing of a test leaves the machine) and a run makes its own
# internal network (README, "The docker backend"). podman's service runs beside it (measured: its
# netavark bridge and dockerd's chains do not meet). A system dockerd the user runs is not touched; two
# dockerds manage the same iptables chains, so `up` refuses to start one beside another daemon.
# CRAWLRUN_NO_DOCKER_ENGINE=1 makes `up` do nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

NAME=docker-engine
# shellcheck source=scripts/engine-common.sh
. scripts/engine-common.sh
DIR="${CRAWLRUN_DOCKER_DIR:-/tmp/crawlrun-docker-$CHECKOUT}"
SOCK="$DIR/docker.sock"

docker_() { "${ROOT[@]}" docker --host "unix://$SOCK" "$@"; }
inputs_of() { "$@" image inspect --format '{{index .Config.Labels "org.crawlrun.inputs"}}' "$IMAGE" 2>/dev/null || true; }

install() {
    local need=()
    command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ] || need+=(docker.io)
    command -v curl >/dev/null 2>&1 || need+=(curl)
    apt_install "$DIR/apt.log" "${need[@]}"
}

start_daemon() {
    local pid other
    # Another dockerd (a system one, another checkout's) owns the DOCKER iptables chains.
    other=$({ pgrep -x dockerd || true; } | while read -r p; do
        grep -qF -- "$SOCK" "/proc/$p/cmdline" 2>/dev/null || echo "$p"
    done | head -n 1)
    if [ -n "$other" ]; then
        log "another dockerd runs here (pid $other): two fight over iptables; stop it, or CRAWLRUN_NO_DOCKER_ENGINE=1 to test on podman only"
        exit 1
    fi
    "${ROOT[@]}" rm -f "$SOCK"
    # setsid: Ctrl-C in the caller's terminal reaches the tests, not the daemon; `down` stops it.
    # PATH: dockerd finds runc, containerd and iptables in the sbin folders.
    setsid "${ROOT[@]}" env PATH="/usr/sbin:/sbin:$PATH" dockerd --host "unix://$SOCK" \
        --data-root "$DIR/data" --exec-root "$DIR/exec" --pidfile "$DIR/dockerd.pid" --bridge=none \
        </dev/null >"$DIR/dockerd.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 200); do
        answers && break
        alive "$pid" || { tail -n 20 "$DIR/dockerd.log" >&2; log "dockerd exited"; exit 1; }
        sleep 0.1
    done
    answers || { log "no answer on $SOCK after 20 s (see $DIR/dockerd.log)"; exit 1; }
    [ ${#ROOT[@]} -eq 0 ] || "${ROOT[@]}" chown "$(id -u)" "$SOCK"
    echo "export CRAWLRUN_DOCKERD_PID=$pid"
    log "dockerd started on $SOCK (pid $pid)"
}

# The offline images, built by podman, into this engine when its copy is missing or stale.
load_images() {
    local start
    for IMAGE in localhost/crawlrun-base:bookworm "localhost/crawlrun-crawler:$TAG" "localhost/crawlrun-sidecar:$TAG"; do
        if [ "$(inputs_of docker_)" = "$(inputs_of "${ROOT[@]}" podman)" ]; then continue; fi
        start=$(date +%s)
        "${ROOT[@]}" podman save "$IMAGE" | docker_ load -q >/dev/null
        log "$IMAGE loaded in $(($(date +%s) - start)) s"
    done
}

up() {
    if [ "${CRAWLRUN_NO_DOCKER_ENGINE:-0}" = 1 ]; then
        log "CRAWLRUN_NO_DOCKER_ENGINE=1: no Docker Engine"
        return
    fi
    mkdir -p "$DIR"
    install
    # podman builds the images (no registry here); its own exports are not needed.
    scripts/podman.sh build
    if answers; then log "dockerd already answers on $SOCK"; else start_daemon; fi
    load_images
    echo "export CRAWLRUN_DOCKER_ENGINE_HOST=unix://$SOCK CRAWLRUN_IMAGE_TAG=$TAG"
}

down() {
    local pid="${CRAWLRUN_DOCKERD_PID:-}"
    [ -n "$pid" ] && alive "$pid" || return 0
    if answers; then
        # Only tests and demos use this daemon: whatever they left goes, and with the networks
        # their iptables rules and bridges.
        mapfile -t left < <(docker_ ps -aq)
        [ ${#left[@]} -eq 0 ] || { docker_ rm -f "${left[@]}" >/dev/null && log "removed ${#left[@]} containers left behind"; }
        docker_ network prune -f >/dev/null || true
    fi
    NAME=dockerd stop_pid "$pid"
    # dockerd leaves its default network namespace mounted in the exec root when it exits.
    if ! alive "$pid"; then
        for ns in "$DIR"/exec/netns/*; do
            if grep -qF " $ns " /proc/mounts; then "${ROOT[@]}" umount "$ns" || true; fi
        done
    fi
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    *)
        echo "usage: env=\$(scripts/docker-engine.sh up); eval \"\$env\"; …; scripts/docker-engine.sh down" >&2
        exit 64
        ;;
esac
