"""Faults injected on request, each armed for a number of occurrences.

Request faults answer an API call before (or instead of) moto; task faults mark the next tasks
RunTask creates. Each armed fault is consumed once per occurrence, so a test arms exactly what it
wants to see and nothing leaks into the next one.
"""

from __future__ import annotations

import threading

# name → (kind, the parameters it takes with their defaults)
KINDS: dict[str, tuple[str, dict]] = {
    # RunTask answered with ThrottlingException (HTTP 400) before moto sees it.
    "runTaskThrottling": ("request", {}),
    # RunTask answered with failures[] "Capacity is unavailable at this time…" and no task.
    "runTaskCapacity": ("request", {}),
    # RunTask creates its task, then the answer is lost: the connection is closed ("close") or
    # an HTTP 500 comes back ("500"). A retry with the same clientToken must find the same task.
    "runTaskLostResponse": ("request", {"mode": "close"}),
    # DescribeTasks answered with an HTTP 500 ServerException.
    "describeTasksServerError": ("request", {}),
    # The next tasks fail to start: CannotPullContainerError, no exit codes, TaskFailedToStart.
    "cannotPullContainer": ("task", {}),
    # The next tasks are interrupted mid-batch: SIGTERM to the containers, stopCode
    # SpotInterruption. `afterSeconds` counts from the crawler's start; `afterLine` (a substring
    # of a crawler output line) triggers instead when given.
    "spotInterruption": ("task", {"afterSeconds": 1.0, "afterLine": None}),
    # The next tasks' crawler is SIGKILLed mid-batch (exit code 137); the task then stops with
    # EssentialContainerExited.
    "crawlerKilled": ("task", {"afterSeconds": 1.0, "afterLine": None}),
    # The next tasks stay in PROVISIONING until StopTask.
    "stuckProvisioning": ("task", {}),
    # The next tasks' log events appear `seconds` after they were written, and the tail (those
    # not yet delivered at the stop) `seconds` after the task is STOPPED.
    "lateLogTail": ("task", {"seconds": 5.0}),
}


class FaultError(ValueError):
    pass


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: dict[str, list[dict]] = {}

    def arm(self, spec: dict) -> dict:
        name = spec.get("fault")
        if name not in KINDS:
            raise FaultError(f"unknown fault {name!r}; known: {', '.join(sorted(KINDS))}")
        count = spec.get("count", 1)
        if not isinstance(count, int) or count < 1:
            raise FaultError("count must be a positive integer")
        _, defaults = KINDS[name]
        unknown = set(spec) - set(defaults) - {"fault", "count"}
        if unknown:
            raise FaultError(f"fault {name} takes no {', '.join(sorted(unknown))}")
        params = {k: spec.get(k, v) for k, v in defaults.items()}
        with self._lock:
            self._armed.setdefault(name, []).extend(dict(params) for _ in range(count))
        return self.armed()

    def take(self, name: str) -> dict | None:
        """Consumes one occurrence of `name`; its parameters, or None when it is not armed."""
        with self._lock:
            queue = self._armed.get(name)
            if not queue:
                return None
            params = queue.pop(0)
            if not queue:
                del self._armed[name]
            return params

    def take_task_faults(self) -> dict[str, dict]:
        """One occurrence of every armed task fault: what the next task will suffer."""
        taken = {}
        for name, (kind, _) in KINDS.items():
            if kind == "task":
                params = self.take(name)
                if params is not None:
                    taken[name] = params
        return taken

    def armed(self) -> dict:
        with self._lock:
            return {name: len(queue) for name, queue in self._armed.items()}

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()
