"""The peer benchmark (issue 23): the crawler against Selenium and Playwright on the same pages.

Run by scripts/bench-peers.sh, which builds the release crawler and fixture-site and makes the
virtual environment holding playwright and selenium. Every row runs in a child process of its
own (a fresh browser each), on the loopback fixture site, and is timed from the child's start
to its exit, browser start included, the same for every peer. Each row prints:

- pages/s;
- whole-machine CPU ms per page: busy jiffies of /proc/stat (user+nice+system+irq+softirq+steal)
  around the row, divided by the pages. On a shared machine this counts other people's work too,
  hence the next column;
- own CPU ms per page: the CPU of the row's whole process tree (getrusage(RUSAGE_CHILDREN)
  around the row: every browser process, driver and crawler, as each was reaped).

Nothing here reaches beyond 127.0.0.1 (and *.localhost, which Chromium resolves to loopback).
"""

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

CHROME_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
    "--window-size=1280,800", "--no-first-run", "--disable-extensions",
]
# The script every peer runs on a loaded page: the two fields the crawler extracts.
EXTRACT = (
    "return [document.querySelector('h1') && document.querySelector('h1').textContent,"
    " document.querySelector('.price') && document.querySelector('.price').textContent]"
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def busy_jiffies():
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest is inside user already)
    return sum(fields[i] for i in (0, 1, 2, 5, 6, 7))


def children_cpu():
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def block_args(blocked):
    # Chromium's resolver answers "not found" for these names: the request never leaves.
    if not blocked:
        return []
    return ["--host-resolver-rules=" + ", ".join(f"MAP {h} ~NOTFOUND" for h in blocked)]


# --- the peers, each run as `bench_peers.py --row KIND …` in its own process -------------------

def row_selenium(urls, blocked):
    """The seeds' stack: Selenium with chromedriver, one session, one page at a time."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = os.environ.get("CHROME_BIN", "/usr/bin/chromium")
    for a in CHROME_ARGS + block_args(blocked):
        opts.add_argument(a)
    service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(service=service, options=opts)
    try:
        driver.set_page_load_timeout(30)
        for u in urls:
            driver.get(u)
            h1, _ = driver.execute_script(EXTRACT)
            if not h1:
                raise SystemExit(f"selenium: no h1 on {u}")
    finally:
        driver.quit()


def row_playwright(urls, blocked, k):
    """Playwright (the engine under Crawlee): K pages in one browser, each taking the next URL."""
    from playwright.async_api import async_playwright

    async def main():
        async with async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path=os.environ.get("CHROME_BIN", "/usr/bin/chromium"),
                args=CHROME_ARGS[1:] + block_args(blocked), headless=True)
            context = await browser.new_context(viewport={"width": 1280, "height": 800})
            queue = list(reversed(urls))

            async def worker():
                page = await context.new_page()
                while queue:
                    u = queue.pop()
                    await page.goto(u, wait_until="load", timeout=30000)
                    h1, _ = await page.evaluate("() => { " + EXTRACT + " }")
                    if not h1:
                        raise SystemExit(f"playwright: no h1 on {u}")
                await page.close()

            await asyncio.gather(*(worker() for _ in range(k)))
            await browser.close()

    asyncio.run(main())


def run_crawler(urls, blocked, tabs, crawler, work, log=None, transport="classic"):
    """The release crawler against chromedriver (its sidecar), one session × `tabs` tabs, over
    `transport` (`crawl.webdriver`: classic WebDriver over HTTP, or WebDriver BiDi)."""
    port = free_port()
    driver = subprocess.Popen(
        [os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"), f"--port={port}"]
        + ([f"--log-path={log}", "--verbose"] if log else []),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        crawl = {
            "allowPrivateNetworks": True, "sessions": 1, "tabsPerSession": tabs, "webdriver": transport,
            "fields": {"h1": {"selector": "h1"}, "price": {"selector": ".price"}},
        }
        if blocked:
            crawl["blockHosts"] = blocked
        if os.environ.get("PEERS_CRAWLER_ARGS"):  # an A/B of Chrome switches: space-separated
            crawl["browserArgs"] = os.environ["PEERS_CRAWLER_ARGS"].split()
        batch = os.path.join(work, f"batch-{tabs}-{time.monotonic_ns()}.json")
        out = batch.replace(".json", ".jsonl")
        with open(batch, "w") as f:
            json.dump({"batch": "peers", "urls": urls, "crawl": crawl}, f)
        env = dict(os.environ, CRAWL_BATCH=batch, CRAWL_OUT=out, WEBDRIVER_URL=f"http://127.0.0.1:{port}")
        log = subprocess.run([crawler], env=env, capture_output=True, text=True)
        if log.returncode != 0:
            raise SystemExit(f"crawler exited {log.returncode}:\n{log.stderr[-2000:]}")
        with open(out) as f:
            records = [json.loads(line) for line in f if line.strip()]
        bad = [r for r in records if not r.get("ok")]
        if len(records) != len(urls) or bad:
            raise SystemExit(f"crawler: {len(records)} records for {len(urls)} URLs, {len(bad)} failed: {bad[:2]}")
    finally:
        driver.terminate()
        driver.wait()


def profile(log, pages):
    """Per WebDriver command: how many, and the time from chromedriver's COMMAND line to its
    RESPONSE (one session: commands are serial, so the times add up to the session's busy time)."""
    import re
    stamp = re.compile(r"^\[(\d+\.\d+)\]\[\w+\]: \[[0-9a-f]+\] (COMMAND|RESPONSE) (\w+)")
    open_at, totals, counts, first, last = {}, {}, {}, None, None
    with open(log, errors="replace") as f:
        for line in f:
            m = stamp.match(line)
            if not m:
                continue
            t, kind, name = float(m.group(1)), m.group(2), m.group(3)
            first = t if first is None else first
            last = t
            if kind == "COMMAND":
                open_at[name] = t
            elif name in open_at:
                totals[name] = totals.get(name, 0) + t - open_at.pop(name)
                counts[name] = counts.get(name, 0) + 1
    span = (last or 0) - (first or 0)
    print(f"profile: {pages} pages, {span:.1f} s from the first command to the last; per command:")
    print("| command | count | per page | ms each | share of the run |")
    print("|---|---|---|---|---|")
    for name in sorted(totals, key=lambda n: -totals[n]):
        print(f"| {name} | {counts[name]} | {counts[name] / pages:.2f} | {totals[name] * 1000 / counts[name]:.1f} "
              f"| {totals[name] * 100 / span:.0f} % |")


def row_bidi(urls, blocked, k):
    """What WebDriver BiDi would give the crawler (issue 23 item 6), measured before building it:
    one chromedriver session with `webSocketUrl: true`, K browsing contexts, each navigating
    with `wait: "complete"` and reading the fields with `script.evaluate` addressed to its
    context — no window switch, no polling — all K in flight over the one WebSocket. The same
    chromedriver and Chrome arguments as the crawler's rows; only the protocol differs."""
    import threading
    import urllib.request
    import websocket  # websocket-client, which selenium depends on

    port = free_port()
    driver = subprocess.Popen(
        [os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"), f"--port={port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if json.load(urllib.request.urlopen(base + "/status"))["value"]["ready"]:
                    break
            except OSError:
                time.sleep(0.05)
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "webSocketUrl": True, "pageLoadStrategy": "none",
            "goog:chromeOptions": {"args": CHROME_ARGS + block_args(blocked),
                                   "binary": os.environ.get("CHROME_BIN", "/usr/bin/chromium")}}}}
        req = urllib.request.Request(base + "/session", json.dumps(caps).encode(), {"Content-Type": "application/json"})
        value = json.load(urllib.request.urlopen(req))["value"]
        sid, ws_url = value["sessionId"], value["capabilities"]["webSocketUrl"]
        ws = websocket.create_connection(ws_url)
        lock, waiting, ids = threading.Lock(), {}, iter(range(1, 1 << 30))

        def reader():
            while True:
                try:
                    msg = json.loads(ws.recv())
                except Exception:
                    return
                if "id" in msg and msg["id"] in waiting:
                    box = waiting.pop(msg["id"])
                    box.append(msg)
                    box[0].set()

        threading.Thread(target=reader, daemon=True).start()

        def call(method, params):
            box = [threading.Event()]
            with lock:
                i = next(ids)
                waiting[i] = box
                ws.send(json.dumps({"id": i, "method": method, "params": params}))
            box[0].wait(60)
            msg = box[1]
            if msg.get("type") == "error":
                raise SystemExit(f"bidi {method}: {msg.get('error')}: {msg.get('message')}")
            return msg["result"]

        top = call("browsingContext.getTree", {})["contexts"][0]["context"]
        contexts = [top] + [call("browsingContext.create", {"type": "tab"})["context"] for _ in range(k - 1)]
        queue = list(reversed(urls))
        qlock = threading.Lock()

        def worker(ctx):
            while True:
                with qlock:
                    if not queue:
                        return
                    u = queue.pop()
                call("browsingContext.navigate", {"context": ctx, "url": u, "wait": "complete"})
                r = call("script.evaluate", {"expression": "(() => { " + EXTRACT + " })()",
                                             "target": {"context": ctx}, "awaitPromise": False})
                if r.get("type") != "success" or not r["result"]["value"][0].get("value"):
                    raise SystemExit(f"bidi: no h1 on {u}: {r}")

        threads = [threading.Thread(target=worker, args=(c,)) for c in contexts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ws.close()
        urllib.request.urlopen(urllib.request.Request(base + f"/session/{sid}", method="DELETE"))
    finally:
        driver.terminate()
        driver.wait()


# --- the table ---------------------------------------------------------------------------------

def measure(label, argv, pages):
    """Runs one row as a child process; prints and returns its figures."""
    cpu0, busy0, t0 = children_cpu(), busy_jiffies(), time.monotonic()
    done = subprocess.run(argv)
    elapsed = time.monotonic() - t0
    busy = (busy_jiffies() - busy0) / os.sysconf("SC_CLK_TCK")
    own = children_cpu() - cpu0
    if done.returncode != 0:
        print(f"| {label} | failed (exit {done.returncode}) | | |", flush=True)
        return None
    print(f"| {label} | {pages / elapsed:.1f} | {busy * 1000 / pages:.0f} | {own * 1000 / pages:.0f} |", flush=True)
    return pages / elapsed, busy * 1000 / pages, own * 1000 / pages


def start_site(site):
    p = subprocess.Popen([site, "--fixtures"], stdout=subprocess.PIPE, text=True, start_new_session=True)
    base = p.stdout.readline().strip()
    if not base.startswith("http://"):
        p.terminate()
        raise SystemExit(f"fixture-site printed {base!r}")
    return p, base


def wait_idle(seconds):
    time.sleep(seconds)  # let the previous row's processes finish exiting before the next counts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--row")
    ap.add_argument("--urls-file")
    ap.add_argument("--k", type=int, default=1)
    ap.add_argument("--block", default="")
    ap.add_argument("--crawler", default=".build/release/crawler")
    ap.add_argument("--site", default=".build/release/fixture-site")
    ap.add_argument("--pages", type=int, default=160)
    ap.add_argument("--real-pages", type=int, default=80)
    ap.add_argument("--delays", default="0,250")
    ap.add_argument("--only", default="page,real")
    ap.add_argument("--work", default=None)
    ap.add_argument("--bidi", action="store_true", help="add rows for the Python WebDriver BiDi prototype")
    ap.add_argument("--transport", default="classic", help="one crawler row's crawl.webdriver (with --row)")
    ap.add_argument("--transports", default="classic,bidi", help="the crawler rows' crawl.webdriver values")
    ap.add_argument("--profile", type=int, default=0, help="only profile the crawler 1 × K at the first delay")
    a = ap.parse_args()
    blocked = [h for h in a.block.split(",") if h]
    if a.row:
        with open(a.urls_file) as f:
            urls = json.load(f)
        if a.row == "selenium":
            row_selenium(urls, blocked)
        elif a.row == "playwright":
            row_playwright(urls, blocked, a.k)
        elif a.row == "bidi":
            row_bidi(urls, blocked, a.k)
        elif a.row == "crawler":
            run_crawler(urls, blocked, a.k, a.crawler, a.work, transport=a.transport)
        return

    work = a.work or tempfile.mkdtemp(prefix="bench-peers-")
    site, base = start_site(a.site)
    try:
        if a.profile:
            d = int(a.delays.split(",")[0])
            log = os.path.join(work, "chromedriver.log")
            run_crawler([f"{base}/page/{n}?ms={d}" for n in range(1, a.pages + 1)], [], a.profile, a.crawler, work, log,
                        transport=a.transport)
            profile(log, a.pages)
            return
        print(f"bench-peers: {a.pages} pages per row, {a.real_pages} on /real; load average {os.getloadavg()[0]:.2f} "
              f"{os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}; {os.cpu_count()} CPUs", flush=True)
        print("| pages | peer | pages/s | whole-machine CPU ms/page | own CPU ms/page |")
        print("|---|---|---|---|---|", flush=True)
        me = [sys.executable, os.path.abspath(__file__), "--crawler", a.crawler, "--work", work]

        def rows(tag, urls, block=""):
            path = os.path.join(work, f"urls-{len(os.listdir(work))}.json")
            with open(path, "w") as f:
                json.dump(urls, f)
            common = ["--urls-file", path, "--block", block]
            suffix = ", third parties blocked" if block else ""
            peers = [("seeds' stack (selenium, 1 session)", ["--row", "selenium"])] if not block else []
            peers += [(f"Playwright, {k} pages in one browser", ["--row", "playwright", "--k", str(k)]) for k in (4, 8)]
            peers += [(f"crawler 1 × {k}, {t}", ["--row", "crawler", "--k", str(k), "--transport", t])
                      for t in a.transports.split(",") if t for k in (1, 8)]
            if a.bidi:
                peers += [(f"BiDi prototype (Python), 1 × {k}", ["--row", "bidi", "--k", str(k)]) for k in (1, 8)]
            for name, extra in peers:
                measure(f"{tag} | {name}{suffix}", me + common + extra, len(urls))
                wait_idle(1)

        only = a.only.split(",")
        if "page" in only:
            for d in [int(x) for x in a.delays.split(",") if x]:
                rows(f"{d} ms", [f"{base}/page/{n}?ms={d}" for n in range(1, a.pages + 1)])
        if "real" in only:
            real = [f"{base}/real/{n}" for n in range(1, a.real_pages + 1)]
            rows("/real", real)
            third = urllib.request.urlopen(base + "/real/hosts").read().decode().split()
            rows("/real", real, ",".join(third))
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        site.terminate()
        site.wait()


if __name__ == "__main__":
    main()
