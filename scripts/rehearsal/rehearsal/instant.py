"""Containers played in process, for benchmarks of the coordinator (`--runner instant`).

A task's two containers cost nothing here: the sidecar is healthy at once and runs until it is
stopped (exit 143); the crawler reads its batch from the rehearsal's S3 (CRAWL_BATCH), writes one
`ok` record per URL to CRAWL_OUT, prints the crawler's log lines ending with the sentinel
`crawler: done N/N`, and exits 0 — what the real crawler does, without a browser. Everything
around them (RunTask, the task states, DescribeTasks, StopTask, CloudWatch Logs, faults) is the
rehearsal's as usual, so a thousand tasks measure the coordinator, not Chrome.
"""

from __future__ import annotations

import json
import signal
import threading
from datetime import datetime, timezone
from typing import Callable

from moto.s3.models import s3_backends

from .runner import ProcessRunner


def log_beside(results: str) -> str:
    """The crawler's log location beside its results (Sources/CrawlKit/CrawlerLogLocation.swift)."""
    return (results[: -len(".jsonl")] if results.endswith(".jsonl") else results) + ".log"


def stamp() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class InstantContainer:
    """One played container: the same surface as runner.Container, no process (pid None)."""

    pid = None

    def __init__(self, name: str, on_line: Callable[[str], None], on_exit: Callable[[int], None]):
        self.name = name
        self.exit_code: int | None = None
        self._exited = threading.Event()
        self._on_line = on_line
        self._on_exit = on_exit
        self._lock = threading.Lock()

    def say(self, message: str) -> str:
        line = f"{stamp()} info  {message}"
        self._on_line(line)
        return line

    def exit(self, code: int) -> None:
        with self._lock:
            if self._exited.is_set():
                return
            self.exit_code = code
            self._exited.set()
        self._on_exit(code)

    @property
    def running(self) -> bool:
        return not self._exited.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._exited.wait(timeout)

    def signal_group(self, sig: int) -> None:
        self.exit(128 + sig)

    def stop(self, timeout: float) -> None:
        self.exit(128 + signal.SIGTERM)

    def group_alive(self) -> bool:
        return False


class InstantRunner(ProcessRunner):
    """Starts played containers; S3 is moto's, reached in process under the rehearsal's lock."""

    def __init__(self, account: str, lock: threading.RLock):
        super().__init__(crawler="(instant)")
        self.account = account
        self.lock = lock

    def network(self) -> dict:
        return {"host": "127.0.0.1", "port": 4444}

    def healthy(self, definition: dict, network: dict, container) -> bool:
        return container.running

    def start(self, definition: dict, env: dict[str, str], network: dict, workdir: str,
              on_line: Callable[[str], None], on_exit: Callable[[int], None]) -> InstantContainer:
        container = InstantContainer(definition["name"], on_line, on_exit)
        if self.is_sidecar(definition):
            container.say(f"instant sidecar: ready on port {network['port']}")
        else:
            threading.Thread(target=self._crawl, args=(container, env), daemon=True).start()
        return container

    def _crawl(self, container: InstantContainer, env: dict[str, str]) -> None:
        try:
            batch = json.loads(self._get(env["CRAWL_BATCH"]))
        except Exception as e:  # moto's MissingKey, a bad location, a batch that is not JSON
            container.say(f"crawler: cannot read the batch: {e}")
            return container.exit(65)
        urls = batch.get("urls", [])
        records = [json.dumps({"url": u, "ok": True, "status": 200, "finalUrl": u, "title": "instant",
                               "fields": {}, "error": None, "attempts": 1, "batch": batch.get("batch", ""),
                               "startedAt": stamp(), "ms": 0}) for u in urls]
        self._put(env["CRAWL_OUT"], ("\n".join(records) + "\n").encode() if records else b"")
        said = [container.say(f"crawler: batch {batch.get('batch')}: {len(urls)} URLs (instant: no browser)"),
                container.say(f"crawler: done {len(urls)}/{len(urls)}")]
        # As the crawler does: its log beside its results (CrawlerLogLocation), then exit.
        self._put(log_beside(env["CRAWL_OUT"]), ("\n".join(said) + "\n").encode())
        container.exit(0)

    def _split(self, location: str) -> tuple[str, str]:
        if not location.startswith("s3://") or "/" not in location[5:]:
            raise ValueError(f"{location} is not s3://BUCKET/KEY")
        bucket, key = location[5:].split("/", 1)
        return bucket, key

    def _get(self, location: str) -> bytes:
        bucket, key = self._split(location)
        with self.lock:
            return s3_backends[self.account]["aws"].get_object(bucket, key).value

    def _put(self, location: str, body: bytes) -> None:
        bucket, key = self._split(location)
        with self.lock:
            s3_backends[self.account]["aws"].put_object(bucket, key, body)
