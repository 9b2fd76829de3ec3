#!/usr/bin/env bash
# The peer benchmark (issue 23; README "Benchmark"): the crawler against Selenium with
# chromedriver (one session) and Playwright (K pages in one browser) on the same loopback
# fixture pages, at 0 and 250 ms latency and on /real pages, with pages/s and CPU ms per page.
# A benchmark, not a test: `make bench-peers`. Arguments go to scripts/bench_peers.py
# (--pages N, --real-pages N, --delays 0,250, --only page,real, --transports classic,bidi:
# the crawler rows over classic WebDriver and over WebDriver BiDi; --profile K [--transport T]).
#
# Playwright and Selenium come from PyPI into a private virtual environment (.build/peers-venv);
# Playwright drives the system Chromium through executable_path, so no browser is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH

command -v chromium >/dev/null && command -v chromedriver >/dev/null || bash scripts/setup.sh
venv=.build/peers-venv
if ! "$venv/bin/python" -c 'import playwright, selenium' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet 'playwright>=1.49' 'selenium>=4.27'
fi
flags=(-c release --static-swift-stdlib -Xlinker -no-pie)
swift build "${flags[@]}" --product crawler >&2
swift build "${flags[@]}" --product fixture-site >&2
bin=$(swift build "${flags[@]}" --show-bin-path)

echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo);" \
    "$(chromium --version 2>/dev/null | tail -1); $(chromedriver --version | cut -d' ' -f1-2);" \
    "playwright $("$venv/bin/pip" show playwright | awk '/^Version/ {print $2}');" \
    "selenium $("$venv/bin/pip" show selenium | awk '/^Version/ {print $2}')"
# Selenium must not look for a driver or a browser online: both are named.
export SE_OFFLINE=true CHROME_BIN=${CHROME_BIN:-/usr/bin/chromium} CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver}
exec "$venv/bin/python" scripts/bench_peers.py --crawler "$bin/crawler" --site "$bin/fixture-site" "$@"
