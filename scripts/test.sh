#!/usr/bin/env bash
# The README's test command (and CI's, through .ci/run): installs what is missing (apt:
# chromium, chromium-driver, libcurl; PyPI: moto[server]; podman: scripts/podman.sh; Docker Engine:
# scripts/docker-engine.sh), builds, and
# runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$HOME/.local/bin:$PATH"
CRAWLRUN_NEEDS_MOTO=1 scripts/setup.sh
swift build
# The Docker tests' two engines, with the offline images: podman's Docker Engine API and Docker
# Engine (a private dockerd); both stopped when the tests end.
podman_env=$(scripts/podman.sh up); eval "$podman_env"; trap 'scripts/podman.sh down' EXIT
docker_env=$(scripts/docker-engine.sh up); eval "$docker_env"
trap 'scripts/docker-engine.sh down; scripts/podman.sh down' EXIT
mkdir -p .build
(cd scripts/rehearsal && python3 -m unittest -q) # the Fargate rehearsal's own tests (moto + the built crawler)
# The AWS smoke test's dry run: a stack of deploy/cloudformation.yaml and a 2-task job on the rehearsal.
smoke_status=0
CRAWLRUN_BIN_DIR=.build/debug bash scripts/aws-smoke.sh --dry-run >.build/aws-smoke.log 2>&1 || smoke_status=$?
echo "== scripts/aws-smoke.sh --dry-run: exit $smoke_status (.build/aws-smoke.log)"
[ "$smoke_status" = 0 ] || tail -n 40 .build/aws-smoke.log
# Swift Testing prints a line per test start; the log keeps everything, the terminal the results.
swift test 2>&1 | tee .build/test.log | grep -vE '^(◇|↳)'
status=${PIPESTATUS[0]}
# The Chrome crawler suites again in the tabbed mode (several tabs per session, README "The
# crawler"): every guarantee of the crawler must hold in both modes.
echo "== the crawler suites again with 4 tabs per session (CRAWLRUN_TEST_TABS=4)"
CRAWLRUN_TEST_TABS=4 swift test --skip-build --filter 'CrawlerTests|HostilePageTests|BlockTests' 2>&1 |
    tee .build/test-tabs.log | grep -vE '^(◇|↳)'
tabs_status=${PIPESTATUS[0]}
# And over the transport that is not the default (crawl.webdriver; README "The crawler"): both
# WebDriver transports keep every guarantee.
echo "== the crawler suites again over WebDriver BiDi (CRAWLRUN_TEST_WEBDRIVER=bidi)"
CRAWLRUN_TEST_WEBDRIVER=bidi swift test --skip-build --filter 'CrawlerTests|HostilePageTests|BlockTests' 2>&1 |
    tee .build/test-bidi.log | grep -vE '^(◇|↳)'
bidi_status=${PIPESTATUS[0]}
[ "$tabs_status" != 0 ] || tabs_status=$bidi_status
exit $((status != 0 ? status : tabs_status != 0 ? tabs_status : smoke_status))
