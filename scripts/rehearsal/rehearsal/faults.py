"""Faults injected on request, each armed for a number of occurrences.

Request faults answer an API call before (or instead of) moto; task faults mark the next tasks
RunTask creates — or, given `"batch": ID`, the next tasks of that batch (the task's
`crawlrun:batch` tag, as crawlrun tags its tasks). Each armed fault is consumed once per
occurrence, so a test arms exactly what it wants to see and nothing leaks into the next one.
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
    # ListTasks answered with AccessDeniedException (HTTP 400), as ECS answers a caller whose
    # policy lacks ecs:ListTasks.
    "listTasksDenied": ("request", {}),
    # The next tasks fail to start: CannotPullContainerError, no exit codes, TaskFailedToStart.
    "cannotPullContainer": ("task", {}),
    # The next tasks are interrupted mid-batch: SIGTERM to the containers, stopCode
    # SpotInterruption. `afterSeconds` counts from the crawler's start; `afterLine` (a substring
    # of a crawler output line) triggers instead when given.
    "spotInterruption": ("task", {"afterSeconds": 1.0, "afterLine": None}),
    # The next tasks' crawler is SIGKILLed mid-batch (exit code 137); the task then stops with
    # EssentialContainerExited.
    "crawlerKilled": ("task", {"afterSeconds": 1.0, "afterLine": None}),
    # The next tasks' sidecar runs but its health check never passes (a WebDriver that never
    # says ready): the crawler waits for HEALTHY until the sidecar's startTimeout, if it has one.
    "sidecarNeverHealthy": ("task", {}),
    # ECS's eventual consistency: DescribeTasks answers MISSING for the next tasks until
    # `seconds` after their RunTask (the RunTask reference: up to minutes under load).
    "eventuallyConsistent": ("task", {"seconds": 3.0}),
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
        kind, defaults = KINDS[name]
        if kind == "task":
            defaults = {**defaults, "batch": None}
        unknown = set(spec) - set(defaults) - {"fault", "count"}
        if unknown:
            raise FaultError(f"fault {name} takes no {', '.join(sorted(unknown))}")
        params = {k: spec.get(k, v) for k, v in defaults.items()}
        with self._lock:
            self._armed.setdefault(name, []).extend(dict(params) for _ in range(count))
        return self.armed()

    def take(self, name: str, batch: str | None = None) -> dict | None:
        """Consumes one occurrence of `name` (for a task of `batch`: one armed for any batch or
        for that one); its parameters, or None when none is armed."""
        with self._lock:
            queue = self._armed.get(name)
            i = next((i for i, p in enumerate(queue or []) if p.get("batch") in (None, batch)), None)
            if i is None:
                return None
            params = queue.pop(i)
            if not queue:
                del self._armed[name]
            return params

    def take_task_faults(self, tags: list | None = None) -> dict[str, dict]:
        """One occurrence of every armed task fault that applies to a task with these tags
        ([{"key", "value"}], as RunTask takes them): what that task will suffer."""
        batch = next((t.get("value") for t in tags or [] if t.get("key") == "crawlrun:batch"), None)
        taken = {}
        for name, (kind, _) in KINDS.items():
            if kind == "task":
                params = self.take(name, batch)
                if params is not None:
                    taken[name] = params
        return taken

    def armed(self) -> dict:
        with self._lock:
            return {name: len(queue) for name, queue in self._armed.items()}

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()
