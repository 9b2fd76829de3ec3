#!/usr/bin/env bash
# Builds CrawlRun's images with podman and no container registry (the tests' images):
#
#   localhost/crawlrun-base:bookworm    Debian bookworm from `debootstrap --variant=minbase`
#   localhost/crawlrun-crawler:TAG      images/crawler/Dockerfile's runtime + the host's release `crawler`
#   localhost/crawlrun-sidecar:TAG      images/sidecar/Dockerfile on that base
#
# TAG is $CRAWLRUN_IMAGE_TAG, default `dev`. scripts/podman.sh gives each checkout a tag of its
# own: checkouts on one machine share podman's storage, and one must not test another's binary.
#
# Each image carries the label org.crawlrun.inputs: a hash of what it was built from (recipe,
# Dockerfile, binary, the image below it). An image whose label matches is kept; any other is
# rebuilt, so a run never depends on what a previous run left. Prints the time each step took.
# debootstrap and podman run as root (with sudo when not root); the Swift build runs as the caller.
# FORCE=1 rebuilds everything.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

BASE=localhost/crawlrun-base:bookworm
TAG="${CRAWLRUN_IMAGE_TAG:-dev}"
CRAWLER="localhost/crawlrun-crawler:$TAG"
SIDECAR="localhost/crawlrun-sidecar:$TAG"
LABEL=org.crawlrun.inputs
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

# Without `default_ulimits = []` every RUN step fails with "error setting rlimit type 7".
WORK=$(mktemp -d)
if [ -z "${CONTAINERS_CONF:-}" ]; then
    export CONTAINERS_CONF="$WORK/containers.conf"
    printf '[containers]\ndefault_ulimits = []\n' >"$CONTAINERS_CONF"
fi
ROOT=()
[ "$(id -u)" -eq 0 ] || ROOT=(sudo)
# sudo resets the environment: CONTAINERS_CONF is passed explicitly.
podman() { "${ROOT[@]}" env CONTAINERS_CONF="$CONTAINERS_CONF" podman "$@"; }
cleanup() { "${ROOT[@]}" rm -rf "$WORK"; }
trap cleanup EXIT

log() { echo "images: $*" >&2; }
# Runs a step with its output kept aside; shows it only when the step fails.
quietly() {
    if ! "$@" >"$WORK/step.log" 2>&1; then
        cat "$WORK/step.log" >&2
        log "failed: $*"
        return 1
    fi
}
hash() { sha256sum | cut -c1-16; }
now() { date +%s%N | cut -c1-13; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", (b - a) / 1000 }'; }
inputs_of() { podman image inspect --format "{{index .Labels \"$LABEL\"}}" "$1" 2>/dev/null || true; }
id_of() { podman image inspect --format '{{.Id}}' "$1"; }
size_of() { podman image inspect --format '{{.Size}}' "$1" | awk '{ printf "%.0f MB", $1 / 1e6 }'; }

# Keeps $1 when its label says it was built from $2; otherwise runs $3 with $2, then removes the
# image it replaced (unless something still uses it).
build_if_stale() {
    local image=$1 inputs=$2 old start
    if [ "${FORCE:-0}" != 1 ] && [ "$(inputs_of "$image")" = "$inputs" ]; then
        log "$image is up to date ($(size_of "$image"))"
        return
    fi
    old=$(id_of "$image" 2>/dev/null || true)
    start=$(now)
    "$3" "$inputs"
    log "$image built in $(since "$start") ($(size_of "$image"))"
    if [ -n "$old" ] && [ "$old" != "$(id_of "$image")" ]; then podman rmi "$old" >/dev/null 2>&1 || true; fi
}

# The base: what debian:bookworm-slim would be, made from Debian's mirror. bookworm-security is in
# its sources so that the sidecar gets the patched Chromium, as from the official image.
build_base() {
    local rootfs="$WORK/rootfs"
    quietly "${ROOT[@]}" debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR"
    printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s bookworm-security main\n' \
        "$MIRROR" "$MIRROR" "${MIRROR%/debian}/debian-security" |
        "${ROOT[@]}" tee "$rootfs/etc/apt/sources.list" >/dev/null
    # Inside the new tree only (a relative path after cd, never an absolute one).
    "${ROOT[@]}" sh -c 'cd "$1" && rm -rf ./var/cache/apt/archives/*.deb ./var/lib/apt/lists/* ./var/cache/apt/*.bin' \
        - "$rootfs"
    "${ROOT[@]}" tar -C "$rootfs" -c . >"$WORK/rootfs.tar"
    quietly podman import --change "LABEL $LABEL=$1" --change 'CMD ["/bin/bash"]' "$WORK/rootfs.tar" "$BASE"
}
build_if_stale "$BASE" "$(echo "debootstrap minbase bookworm $MIRROR, security, v1" | hash)" build_base
base_id=$(id_of "$BASE")

# The crawler: the release binary built as the Makefile's `release` builds it (same flags, same
# .build/release, so neither redoes the other's work), then the Dockerfile's `prebuilt` stage.
start=$(now)
quietly swift build -c release --product crawler --static-swift-stdlib -Xlinker -no-pie
binary="$(swift build -c release --show-bin-path)/crawler"
log "release crawler built in $(since "$start")"
build_crawler() {
    mkdir -p "$WORK/crawler"
    cp "$binary" "$WORK/crawler/crawler"
    quietly podman build --target prebuilt --build-arg RUNTIME_IMAGE="$BASE" --label "$LABEL=$1" \
        -f images/crawler/Dockerfile -t "$CRAWLER" "$WORK/crawler"
}
build_if_stale "$CRAWLER" "$(cat images/crawler/Dockerfile "$binary" <(echo "$base_id") | hash)" build_crawler

build_sidecar() {
    quietly podman build --build-arg BASE_IMAGE="$BASE" --label "$LABEL=$1" -t "$SIDECAR" images/sidecar
}
build_if_stale "$SIDECAR" "$(cat images/sidecar/Dockerfile <(echo "$base_id") | hash)" build_sidecar
