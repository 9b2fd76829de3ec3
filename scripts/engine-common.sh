# Sourced by scripts/podman.sh and scripts/docker-engine.sh (from the repository's root): what
# both do for an engine's daemon. The caller sets SOCK (its socket) and NAME (its log prefix).

CHECKOUT=$(pwd | sha256sum | cut -c1-8)
# The test images' tag: one per checkout, since checkouts on one machine share podman's storage.
TAG="dev-$CHECKOUT"
ROOT=()
[ "$(id -u)" -eq 0 ] || ROOT=(sudo)

log() { echo "$NAME: $*" >&2; }
# /proc rather than `kill -0`: through sudo the daemon is root's, and kill -0 would say EPERM.
alive() { [ -d "/proc/$1" ]; }

# True when something answers the Docker API's ping on the socket.
answers() {
    [ -S "$SOCK" ] || return 1
    command -v curl >/dev/null 2>&1 || return 0
    [ "$(curl -s --max-time 2 --unix-socket "$SOCK" http://d/_ping 2>/dev/null)" = OK ]
}

# apt_install LOG PACKAGE…: installs the packages (none: nothing), its output kept in LOG and
# shown only when it fails.
apt_install() {
    local out=$1 start
    shift
    [ $# -gt 0 ] || return 0
    start=$(date +%s)
    log "installing $*"
    # `env` after sudo: sudo would drop DEBIAN_FRONTEND from the environment.
    if ! { "${ROOT[@]}" apt-get update -qq &&
        "${ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; } >"$out" 2>&1; then
        cat "$out" >&2
        log "apt could not install $*"
        exit 1
    fi
    log "installed in $(($(date +%s) - start)) s"
}

# stop_pid PID: SIGTERM to the daemon `up` started, and waits up to 15 s for it to go.
stop_pid() {
    local pid=$1
    [ -n "$pid" ] && alive "$pid" || return 0
    "${ROOT[@]}" kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do
        alive "$pid" || { log "stopped (pid $pid)"; return 0; }
        sleep 0.1
    done
    log "pid $pid still running after 15 s"
}
