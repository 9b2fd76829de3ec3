"""Container output into CloudWatch Logs, as the awslogs driver puts it there.

Each line becomes one event of the stream `<awslogs-stream-prefix>/<container>/<task-id>`, with the
time it was read, in order. Events are written into moto's Logs backend in process (the same
data GetLogEvents serves over HTTP). A delay per task reproduces CloudWatch's late tail: the
events of such a task appear `delay` seconds after they were produced, so the last ones arrive
after the task has stopped.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from typing import Callable

from moto.logs.models import logs_backends


class LogPump:
    def __init__(self, lock: threading.RLock, account: str):
        self._lock = lock
        self._account = account
        self._queue: list[tuple[float, int, tuple[str, str, str], int, str]] = []
        self._seq = itertools.count()
        self._wake = threading.Condition()
        self._closed = False
        threading.Thread(target=self._deliver, name="log-pump", daemon=True).start()

    def group_exists(self, region: str, group: str) -> bool:
        with self._lock:
            return group in logs_backends[self._account][region].groups

    def create_group(self, region: str, group: str) -> None:
        with self._lock:
            backend = logs_backends[self._account][region]
            if group not in backend.groups:
                backend.create_log_group(group, {})

    def open_stream(self, region: str, group: str, stream: str) -> None:
        """Creates the stream, as the driver does when the container starts (the agent checked
        the group before: agent.py `_check_log_groups`)."""
        backend = logs_backends[self._account][region]
        with self._lock:
            if group not in backend.groups:
                return
            if stream not in backend.groups[group].streams:
                backend.create_log_stream(group, stream)

    def writer(self, region: str, group: str, stream: str, delay: Callable[[], float]) -> Callable[[str], None]:
        """A function that records one output line of the container now."""
        key = (region, group, stream)

        def write(line: str) -> None:
            if not line:
                return  # CloudWatch takes no empty events; the awslogs driver skips them
            now = time.time()
            with self._wake:
                heapq.heappush(self._queue, (now + delay(), next(self._seq), key, int(now * 1000), line))
                self._wake.notify()

        return write

    def postpone(self, keys: set[tuple[str, str, str]], until: float) -> None:
        """Events of these streams still on their way arrive no sooner than `until`."""
        with self._wake:
            self._queue = [(max(due, until) if key in keys else due, seq, key, ts, line)
                           for due, seq, key, ts, line in self._queue]
            heapq.heapify(self._queue)
            self._wake.notify()

    def pending(self) -> int:
        with self._wake:
            return len(self._queue)

    def flush(self, timeout: float = 5) -> bool:
        """Waits until every event due by now has been written."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self._wake:
                if not any(due <= time.time() for due, *_ in self._queue):
                    return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()

    def _deliver(self) -> None:
        while True:
            with self._wake:
                while not self._closed and (not self._queue or self._queue[0][0] > time.time()):
                    self._wake.wait(None if not self._queue else max(0.0, self._queue[0][0] - time.time()))
                if self._closed:
                    return
                batch = []
                while self._queue and self._queue[0][0] <= time.time():
                    batch.append(heapq.heappop(self._queue))
            self._put(batch)

    def _put(self, batch: list) -> None:
        by_stream: dict[tuple[str, str, str], list[dict]] = {}
        for _, _, key, timestamp, message in batch:
            by_stream.setdefault(key, []).append({"timestamp": timestamp, "message": message})
        with self._lock:
            for (region, group, stream), events in by_stream.items():
                try:
                    logs_backends[self._account][region].put_log_events(group, stream, events)
                except Exception:  # the group was deleted meanwhile: the driver drops them too
                    pass
