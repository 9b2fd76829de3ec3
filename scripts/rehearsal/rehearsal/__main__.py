"""python3 -m rehearsal: Fargate rehearsed on this machine (moto plus an agent that runs the tasks).

Prints one JSON line on standard output once it serves ({"endpoint", "pid", "region", …}), then
serves until SIGTERM or SIGINT, or until its parent process is gone; every task process it
started is stopped before it exits.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def default_crawler() -> str | None:
    if os.environ.get("CRAWLRUN_CRAWLER"):
        return os.environ["CRAWLRUN_CRAWLER"]
    for config in ("debug", "release"):
        path = REPO / ".build" / config / "crawler"
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return None


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python3 -m rehearsal", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="loopback address to serve on (127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port (0: a free one, the default)")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--crawler", default=default_crawler(),
                   help="the built crawler binary (CRAWLRUN_CRAWLER, else .build/debug/crawler)")
    p.add_argument("--chromedriver", help="the WebDriver sidecar's chromedriver (CHROMEDRIVER, else on PATH)")
    p.add_argument("--sidecar-command", help="the sidecar as a command with {port} in it, e.g. a Selenium server")
    p.add_argument("--runner", choices=("processes", "instant"), default="processes",
                   help="processes: each container a local process (the default); instant: containers "
                        "played in process, the crawler writing an ok record per URL at once (benchmarks)")
    p.add_argument("--provision-seconds", type=float, default=0.1, help="time in PROVISIONING and DEPROVISIONING")
    p.add_argument("--pull-seconds", type=float, default=0.1, help="time in PENDING before the containers start")
    p.add_argument("--health-timeout", type=float, default=60.0,
                   help="a health check not passing this long reports UNHEALTHY (the task still waits)")
    p.add_argument("--launch-rate", type=float, default=20.0,
                   help="Fargate's RunTask rate: calls (and tasks, burst 5×) per second, throttled beyond (0: off)")
    p.add_argument("--max-start-timeout", type=float, default=None,
                   help="cap on a container's startTimeout (a dependency given up on sooner, for tests)")
    p.add_argument("--max-stop-timeout", type=float, default=120.0, help="cap on a container's stopTimeout")
    args = p.parse_args(argv)
    if not args.crawler and args.runner == "processes":
        p.error("no crawler binary: build it (swift build) or pass --crawler PATH / set CRAWLRUN_CRAWLER")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        p.error("the rehearsal serves on loopback only")
    return args


def watch_parent(stop: threading.Event) -> None:
    """Stops the rehearsal when the process that started it is gone (it is re-parented)."""
    parent = os.getppid()
    while not stop.wait(0.2):
        if os.getppid() != parent:
            stop.set()


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    # Before moto is imported: auth stays off until the set-up switches it on.
    os.environ.pop("INITIAL_NO_AUTH_ACTION_COUNT", None)
    from .core import Rehearsal
    from .instant import InstantRunner
    from .options import Options
    from .runner import ProcessRunner
    from .server import log, serve

    if args.chromedriver:
        os.environ["CHROMEDRIVER"] = args.chromedriver
    options = Options(region=args.region, provision_seconds=args.provision_seconds, pull_seconds=args.pull_seconds,
                      health_timeout=args.health_timeout, max_stop_timeout=args.max_stop_timeout,
                      max_start_timeout=args.max_start_timeout, launch_rate=args.launch_rate)
    if args.runner == "instant":
        rehearsal = Rehearsal(options, None)
        rehearsal.runner = InstantRunner(rehearsal.account, rehearsal.lock)
    else:
        rehearsal = Rehearsal(options, ProcessRunner(args.crawler, args.sidecar_command))
    server, url = serve(rehearsal, args.host, args.port)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    threading.Thread(target=watch_parent, args=(stop,), daemon=True).start()
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    serving.start()
    print(json.dumps({"endpoint": url, "pid": os.getpid(), "region": args.region,
                      "control": url + "/_rehearsal/"}), flush=True)
    log(f"serving on {url} ({'instant containers' if args.runner == 'instant' else f'crawler {args.crawler}'})")
    while not stop.wait(1):
        pass
    log("stopping every task")
    rehearsal.shutdown()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
