#!/usr/bin/env bash
# Installs what CrawlRun's build, tests and demo need on a Debian machine. Idempotent: it
# installs only what is missing. Swift itself is expected at /opt/swift or on PATH.
set -euo pipefail

apt_install() {
    local SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "setup: installing $*"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
[ -f /usr/include/x86_64-linux-gnu/curl/curl.h ] || [ -f /usr/include/aarch64-linux-gnu/curl/curl.h ] ||
    [ -f /usr/include/curl/curl.h ] || need_apt+=(libcurl4-openssl-dev)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
if [ "${CRAWLRUN_NEEDS_MOTO:-0}" = 1 ] && ! python3 -c 'import moto' 2>/dev/null; then
    command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1 || need_apt+=(python3 python3-pip)
fi
[ ${#need_apt[@]} -eq 0 ] || apt_install "${need_apt[@]}"

# moto_server (PyPI moto[server]): the AWS APIs on loopback, for the tests only. The Fargate
# rehearsal patches moto's internals as they are in 5.2.1: pin it.
if [ "${CRAWLRUN_NEEDS_MOTO:-0}" = 1 ] && ! python3 -c 'import sys, moto; sys.exit(moto.__version__ != "5.2.1")' 2>/dev/null; then
    echo "setup: installing moto[server]==5.2.1 (pip; the Fargate rehearsal relies on it)"
    python3 -m pip install -q --user 'moto[server]==5.2.1' 2>/dev/null ||
        python3 -m pip install -q --user --break-system-packages 'moto[server]==5.2.1'
fi

# cfn-lint (PyPI): the tests lint deploy/cloudformation.yaml with it (pinned: new rules could
# fail a clean template on a fresh machine).
if [ "${CRAWLRUN_NEEDS_MOTO:-0}" = 1 ] && ! command -v cfn-lint >/dev/null 2>&1 && [ ! -x "$HOME/.local/bin/cfn-lint" ]; then
    echo "setup: installing cfn-lint==1.51.0 (pip; the CloudFormation template's lint test)"
    python3 -m pip install -q --user 'cfn-lint==1.51.0' 2>/dev/null ||
        python3 -m pip install -q --user --break-system-packages 'cfn-lint==1.51.0'
fi

if ! command -v swift >/dev/null 2>&1; then
    if [ -x /opt/swift/usr/bin/swift ]; then
        echo "setup: add /opt/swift/usr/bin to PATH" >&2
    else
        echo "setup: Swift 6 is required (https://www.swift.org/install/linux/)" >&2
        exit 1
    fi
fi
