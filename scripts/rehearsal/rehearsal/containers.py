"""How a task's containers start, as ECS starts them: in dependsOn order, HEALTHY waiting for the
sidecar's health check (the runner probes it: GET /status → value.ready == true for processes),
each with the environment ECS gives it and its output pumped into its awslogs stream. A part of
`TaskRun` (agent.py), kept apart so each file holds one thing.
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDependency.html
"""

from __future__ import annotations

import os
import time
import uuid


def env_list(items: list | None) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in items or [] if "name" in e}


class ContainerStarts:
    """The container half of a TaskRun (which sets every attribute used here)."""

    # -- moto's view of the containers -----------------------------------------------------------

    def _container_record(self, d: dict) -> dict:
        arn = self.task.task_arn
        record = {
            "containerArn": arn.replace(":task/", ":container/", 1) + "/" + str(uuid.uuid4()),
            "taskArn": arn, "name": d["name"], "image": d.get("image", ""), "lastStatus": "PENDING",
            "networkInterfaces": [], "cpu": str(d.get("cpu", 0)),
        }
        if "memoryReservation" in d:
            record["memoryReservation"] = str(d["memoryReservation"])
        if d.get("healthCheck"):
            record["healthStatus"] = "UNKNOWN"
        return record

    def _container(self, name: str) -> dict:
        return next(c for c in self.task.containers if c["name"] == name)

    # -- starting them -------------------------------------------------------------------------

    def _deps(self, name: str) -> tuple[bool, str | None]:
        """(ready to start, why it never will). As the ECS agent's dependency graph decides
        (agent/engine/dependencygraph/graph.go, verifyContainerOrderingStatusResolvable): a
        HEALTHY, COMPLETE or SUCCESS dependency that is not met waits — an UNHEALTHY sidecar too —
        until the *dependency's* `startTimeout` (from its start) has passed; without one the
        dependent waits for ever (the task stays PENDING until StopTask)."""
        for dep in self.defs[name].get("dependsOn", []):
            other, condition = dep["containerName"], dep.get("condition", "START")
            container = self.started.get(other)
            if container is None:
                return False, None
            if condition == "HEALTHY":
                if self.health.get(other) == "HEALTHY":
                    continue
            elif condition in ("COMPLETE", "SUCCESS"):
                if not container.running:
                    if condition == "SUCCESS" and container.exit_code != 0:
                        return False, (f"dependency graph: failed to resolve container ordering dependency "
                                       f"[{self._describe(other)}] for target [{self._describe(name)}] as "
                                       "dependency did not exit successfully.")
                    continue
            else:
                continue
            timeout = self.defs[other].get("startTimeout")
            if timeout and container.running:
                if self.r.options.max_start_timeout is not None:
                    timeout = min(timeout, self.r.options.max_start_timeout)
                if time.monotonic() - self.start_times[other] > timeout:
                    return False, (f"dependency graph: container ordering dependency [{self._describe(other)}] "
                                   f"for target [{self._describe(name)}] has timed out.")
            return False, None
        return True, None

    def _describe(self, name: str) -> str:
        """The agent's Container.String(): `name(image) (known->desired)`."""
        image = self.defs[name].get("image", "")
        known = "RUNNING" if name in self.started else "PULLED"
        return f"{name}({image}) ({known}->RUNNING)"

    def _start_containers(self) -> bool:
        waiting = [n for n in self.defs]
        health_deadline = {}
        while waiting:
            if self.stop_request or self._essential_exited():
                return False
            for name in list(waiting):
                ready, never = self._deps(name)
                if never:
                    # The agent marks the container STOPPED with exit code 143 and a
                    # CannotStartContainerError (task_manager.go, handleTerminalDependencyError);
                    # an essential one stops the task (EssentialContainerExited).
                    with self.r.lock:
                        c = self._container(name)
                        c.update({"lastStatus": "STOPPED", "exitCode": 143,
                                  "reason": f"CannotStartContainerError: {never}"})
                    if self.defs[name].get("essential", True):
                        return False
                    waiting.remove(name)
                    continue
                if ready:
                    waiting.remove(name)
                    self._start(name)
                    hc = self.defs[name].get("healthCheck")
                    if hc:
                        limit = hc.get("startPeriod", 0) + hc.get("interval", 30) * hc.get("retries", 3)
                        health_deadline[name] = time.monotonic() + min(limit, self.r.options.health_timeout)
            for name, deadline in health_deadline.items():
                if self.health.get(name) == "UNKNOWN":
                    self._check_health(name, deadline)
            self.wake.wait(0.1)
            self.wake.clear()
        return True

    def _check_health(self, name: str, deadline: float) -> None:
        # A CMD-SHELL check cannot run outside its image: the runner probes the sidecar, and any
        # other container with a health check is healthy once it runs.
        healthy = "sidecarNeverHealthy" not in self.faults and self.r.runner.healthy(
            self.defs[name], self.network, self.started[name])
        status = "HEALTHY" if healthy else "UNKNOWN"
        if status == "UNKNOWN" and (time.monotonic() > deadline or not self.started[name].running):
            status = "UNHEALTHY"
        if status != "UNKNOWN":
            self.health[name] = status
            with self.r.lock:
                self._container(name)["healthStatus"] = status
                if all(self.health.get(n) == "HEALTHY" for n in self.health):
                    self.task.health_status = "HEALTHY"
                elif status == "UNHEALTHY":
                    self.task.health_status = "UNHEALTHY"

    def _environment(self, name: str) -> dict[str, str]:
        d = self.defs[name]
        overrides = next((o for o in (self.task.overrides or {}).get("containerOverrides", [])
                          if o.get("name") == name), {})
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.workdir, "TMPDIR": self.workdir,
               "LANG": "C.UTF-8"}
        env.update(env_list(d.get("environment")))
        env.update(env_list(overrides.get("environment")))
        # What ECS gives every container, with this machine's endpoints in place of AWS's.
        env.update({"AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region,
                    "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE", "AWS_ENDPOINT_URL": self.r.endpoint,
                    "AWS_EC2_METADATA_DISABLED": "true"})
        if getattr(self.definition, "task_role_arn", None):
            env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = f"{self.r.endpoint}/_rehearsal/credentials/{self.id}"
            env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = self.credentials_token
        if not self.r.runner.is_sidecar(d):
            env["WEBDRIVER_URL"] = self.r.runner.webdriver_url(self.network, env.get("WEBDRIVER_URL"))
        return env

    def _start(self, name: str) -> None:
        d = self.defs[name]
        options = (d.get("logConfiguration") or {}).get("options", {})
        write = lambda line: None  # noqa: E731 — no awslogs configuration: output is dropped
        if (d.get("logConfiguration") or {}).get("logDriver") == "awslogs":
            group = options.get("awslogs-group", "")
            stream = f"{options.get('awslogs-stream-prefix', 'ecs')}/{name}/{self.id}"
            region = options.get("awslogs-region", self.region)
            self.r.pump.open_stream(region, group, stream)
            late = self.faults.get("lateLogTail", {}).get("seconds", 0.0)
            write = self.r.pump.writer(region, group, stream, lambda: late)
            self.log_keys.add((region, group, stream))

        def on_line(line: str) -> None:
            write(line)
            if not self.r.runner.is_sidecar(d):
                self.lines_seen.append(line)
                self.wake.set()

        def on_exit(code: int) -> None:
            with self.r.lock:
                c = self._container(name)
                c["exitCode"] = code
                c["lastStatus"] = "STOPPED"
            self.wake.set()

        container = self.r.runner.start(d, self._environment(name), self.network, self.workdir, on_line, on_exit)
        self.started[name] = container
        self.start_times[name] = time.monotonic()
        self.order.append(name)
        if d.get("healthCheck"):
            self.health[name] = "UNKNOWN"
        if not self.r.runner.is_sidecar(d):
            self.crawler_started_at = time.monotonic()
        with self.r.lock:
            c = self._container(name)
            c["lastStatus"] = "RUNNING"
            c["runtimeId"] = f"{self.id}-{container.pid}"

    def _essential_exited(self) -> str | None:
        for name, container in self.started.items():
            if not container.running and self.defs[name].get("essential", True):
                return name
        return None

