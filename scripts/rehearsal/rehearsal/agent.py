"""The agent: runs one ECS task for real and makes moto's task object tell what happened.

ECS's rules, as the task-lifecycle page states them
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-lifecycle-explanation.html):
PROVISIONING → PENDING (image pull) → RUNNING once every container has started → on a stop
(StopTask, an essential container exiting, a Spot interruption) desiredStatus STOPPED,
DEACTIVATING → STOPPING (dependents stopped first: SIGTERM, SIGKILL after the container's
stopTimeout) → DEPROVISIONING → STOPPED. How the containers start (dependsOn order, HEALTHY,
their environment and logs) is containers.py's; what runs them, the runner's (runner.py: local
processes; instant.py: played in process).
"""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from .containers import ContainerStarts
from .roles import role_allows
from .runner import Container, wait_until

if TYPE_CHECKING:
    from .ports import AgentHost

SPOT_REASON = "Your Spot Task was interrupted."
ESSENTIAL_REASON = "Essential container in task exited"


def now() -> datetime:
    return datetime.now(timezone.utc)


class TaskRun(ContainerStarts):
    def __init__(self, rehearsal: AgentHost, task, definition, client_token: str | None, faults: dict):
        self.r = rehearsal
        self.task = task
        self.definition = definition
        self.client_token = client_token
        self.faults = faults
        self.defs = {d["name"]: d for d in definition.container_definitions}
        self.order: list[str] = []  # start order, for stopping dependents first
        self.started: dict[str, Container] = {}
        self.start_times: dict[str, float] = {}
        self.health: dict[str, str] = {}
        self.states: list[dict] = []
        self.stop_request: tuple[str, str] | None = None
        self.wake = threading.Event()
        self.done = threading.Event()
        self.fault_fired: set[str] = set()
        self.crawler_started_at: float | None = None
        self.lines_seen: list[str] = []
        self.credentials_token = uuid.uuid4().hex
        self.created = time.monotonic()
        self.workdir = tempfile.mkdtemp(prefix="rehearsal-task-")
        self.network: dict = {}
        self.log_keys: set[tuple[str, str, str]] = set()
        arn = task.task_arn
        self.region = arn.split(":")[3]
        task.containers = [self._container_record(d) for d in definition.container_definitions]
        self._state("PROVISIONING", created_at=now())

    # -- moto's view ---------------------------------------------------------------------------

    def _state(self, status: str | None = None, **fields) -> None:
        with self.r.lock:
            for key, value in fields.items():
                setattr(self.task, key, value)
            if status:
                self.task.last_status = status
                self.states.append({"status": status, "at": now().isoformat()})

    def not_yet_visible(self) -> bool:
        """eventuallyConsistent: DescribeTasks does not know the task yet."""
        fault = self.faults.get("eventuallyConsistent")
        return fault is not None and time.monotonic() - self.created < fault.get("seconds", 3.0)

    @property
    def id(self) -> str:
        return self.task.task_arn.rsplit("/", 1)[-1]

    # -- requests from the API -----------------------------------------------------------------

    def request_stop(self, stop_code: str, reason: str) -> None:
        """StopTask, a Spot interruption: the first reason wins, as on ECS."""
        with self.r.lock:
            if self.stop_request is None and not self.done.is_set():
                self.stop_request = (stop_code, reason)
                self.task.desired_status = "STOPPED"
                self.task.stop_code = stop_code
                self.task.stopped_reason = reason
        self.wake.set()

    def start(self) -> None:
        threading.Thread(target=self._run, name=f"task-{self.id[:8]}", daemon=True).start()

    # -- the lifecycle -------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._lifecycle()
        except Exception:
            traceback.print_exc(file=sys.stderr)
            self.request_stop("TaskFailedToStart", "rehearsal agent error (see its standard error)")
            self._stop_containers()
            self._finish()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.done.set()

    def _wait(self, seconds: float) -> bool:
        """Sleeps unless a stop is requested; True when one was."""
        deadline = time.monotonic() + seconds
        while self.stop_request is None and time.monotonic() < deadline:
            self.wake.wait(max(0.0, min(0.1, deadline - time.monotonic())))
            self.wake.clear()
        return self.stop_request is not None

    def _lifecycle(self) -> None:
        options = self.r.options
        if "stuckProvisioning" in self.faults:
            while not self._wait(3600):
                pass
            return self._finish()
        if self._wait(options.provision_seconds):
            return self._finish()
        self._state("PENDING", pull_started_at=now())
        if self._wait(options.pull_seconds):
            return self._finish()
        if "cannotPullContainer" in self.faults:
            return self._fail_pull()
        problem = self._check_log_groups()
        if problem:
            return self._fail_to_start(problem)
        self._state(pull_stopped_at=now())
        self.network = self.r.runner.network()
        if not self._start_containers():
            if self.stop_request is None:
                self.request_stop("EssentialContainerExited", ESSENTIAL_REASON)
            self._stop_containers()
            return self._finish()
        self._state("RUNNING", started_at=now(), connectivity_at=now())
        self._watch()
        self._stop_containers()
        self._finish()

    def _fail_pull(self) -> None:
        image = next(iter(self.defs.values())).get("image", "")
        reason = (f"CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve "
                  f"ref {image}: failed to do request: Head \"https://{image.split('/')[0]}/v2/\": dial tcp: "
                  "i/o timeout")
        with self.r.lock:
            for c in self.task.containers:
                c["reason"] = reason
        self.request_stop("TaskFailedToStart", reason)
        self._finish()

    def _check_log_groups(self) -> str | None:
        """The awslogs driver's checks, made with the execution role before any container
        starts: the group must exist, or `awslogs-create-group` must be "true" and the role
        allowed logs:CreateLogGroup. ECS's words (stopped-task-error-codes.html,
        ResourceInitializationError: failed to validate logger args)."""
        role = getattr(self.definition, "execution_role_arn", None)
        for d in self.defs.values():
            config = d.get("logConfiguration") or {}
            if config.get("logDriver") != "awslogs":
                continue
            options = config.get("options", {})
            group, region = options.get("awslogs-group", ""), options.get("awslogs-region", self.region)
            if self.r.pump.group_exists(region, group):
                continue
            prefix = "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: "
            if options.get("awslogs-create-group") != "true":
                return (prefix + "failed to create Cloudwatch log stream: ResourceNotFoundException: The specified log "
                        "group does not exist. : exit status 1")
            if not role_allows(self.r.account, role, "logs:CreateLogGroup"):
                return (prefix + f"failed to create Cloudwatch log group: AccessDeniedException: User: {role} is not "
                        f"authorized to perform: logs:CreateLogGroup on resource: {group} : exit status 1")
            self.r.pump.create_group(region, group)
        return None

    def _fail_to_start(self, reason: str) -> None:
        """A task ECS could not prepare: TaskFailedToStart, no container ever ran."""
        with self.r.lock:
            for c in self.task.containers:
                c["reason"] = reason
        self.request_stop("TaskFailedToStart", reason)
        self._finish()

    def _fault_due(self, name: str) -> bool:
        params = self.faults.get(name)
        if params is None or name in self.fault_fired or self.crawler_started_at is None:
            return False
        if params.get("afterLine"):
            return any(params["afterLine"] in line for line in list(self.lines_seen))
        return time.monotonic() - self.crawler_started_at >= params.get("afterSeconds", 1.0)

    def _watch(self) -> None:
        while self.stop_request is None:
            exited = self._essential_exited()
            if exited:
                self.request_stop("EssentialContainerExited", ESSENTIAL_REASON)
                break
            if self._fault_due("spotInterruption"):
                self.fault_fired.add("spotInterruption")
                self.request_stop("SpotInterruption", SPOT_REASON)
                break
            if self._fault_due("crawlerKilled"):
                self.fault_fired.add("crawlerKilled")
                for name, container in self.started.items():
                    if not self.r.runner.is_sidecar(self.defs[name]):
                        container.signal_group(signal.SIGKILL)
            self.wake.wait(0.1)
            self.wake.clear()

    def _stop_containers(self) -> None:
        self._hold_tail()
        with self.r.lock:
            self.task.stopping_at = now()
        self._state("DEACTIVATING")
        self._state("STOPPING")
        for name in reversed(self.order):  # dependents first, as ECS stops them
            timeout = min(float(self.defs[name].get("stopTimeout", 30)), 120.0)
            self.started[name].stop(min(timeout, self.r.options.max_stop_timeout))
        with self.r.lock:
            for c in self.task.containers:
                c["lastStatus"] = "STOPPED"
            self.task.execution_stopped_at = now()

    def _finish(self) -> None:
        """DEPROVISIONING → STOPPED; the log tail may still be on its way (lateLogTail)."""
        with self.r.lock:
            self.task.desired_status = "STOPPED"
            if getattr(self.task, "stopping_at", None) is None:
                self.task.stopping_at = now()
            for c in self.task.containers:
                c["lastStatus"] = "STOPPED"
        self._state("DEPROVISIONING")
        time.sleep(self.r.options.provision_seconds)
        self._state("STOPPED", stopped_at=now())
        self._hold_tail()

    def _hold_tail(self) -> None:
        """lateLogTail: what is still on its way arrives `seconds` from now (from the stop's
        start and again from STOPPED, so the tail always lands after the task has stopped)."""
        late = self.faults.get("lateLogTail")
        if late:
            self.r.pump.postpone(self.log_keys, time.time() + late.get("seconds", 5.0))

    def kill_now(self) -> None:
        """The rehearsal is exiting: every process of the task goes, at once."""
        self.request_stop("TaskFailedToStart", "the rehearsal stopped")
        for container in list(self.started.values()):
            container.signal_group(signal.SIGTERM)
        for container in list(self.started.values()):
            if not container.wait(2):
                container.signal_group(signal.SIGKILL)
            container.signal_group(signal.SIGKILL)
        # A killed browser takes a moment to go, and its zombies to be reaped: the rehearsal
        # exits only once every process of the task is gone.
        for container in list(self.started.values()):
            wait_until(lambda c=container: not c.group_alive(), 5)

    # -- inspection ----------------------------------------------------------------------------

    def describe(self) -> dict:
        t = self.task
        with self.r.lock:
            return {
                "taskArn": t.task_arn, "cluster": t.cluster_name, "startedBy": t.started_by, "tags": t.tags,
                "clientToken": self.client_token, "capacityProviderName": getattr(t, "capacity_provider_name", None),
                "lastStatus": t.last_status, "desiredStatus": t.desired_status,
                "stopCode": getattr(t, "stop_code", None), "stoppedReason": t.stopped_reason or None,
                "states": list(self.states), "faults": sorted(self.faults),
                "containers": [{k: c.get(k) for k in ("name", "lastStatus", "exitCode", "reason", "healthStatus")
                                if k in c} for c in t.containers],
                "pids": {name: c.pid for name, c in self.started.items() if c.pid},
                "overrides": t.overrides,
            }
