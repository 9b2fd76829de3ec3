"""The rehearsal's state: moto's backends, the tasks the agent runs, faults, counters, set-up.

One re-entrant lock guards everything moto holds (its ECS and Logs models have no locks of their
own and the server is threaded): the WSGI layer takes it around every moto request, the agent
around every change it makes to a task.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import timezone

from moto.core import DEFAULT_ACCOUNT_ID
from moto.ec2.models import ec2_backends
from moto.sts.models import sts_backends

from . import ecs_hooks, moto_fixes
from .agent import TaskRun
from .faults import Faults
from .logpump import LogPump
from .options import Options
from .runner import ProcessRunner


class Bucket:
    """A token bucket as AWS throttles with one: `capacity` at once, `rate` more per second."""

    def __init__(self, capacity: float, rate: float):
        self.capacity, self.rate = capacity, rate
        self.tokens, self.last = capacity, time.monotonic()
        self.lock = threading.Lock()

    def take(self, n: int = 1) -> bool:
        if self.rate <= 0:
            return True
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
            self.last = now
            if self.tokens < n:
                return False
            self.tokens -= n
            return True


class Rehearsal:
    def __init__(self, options: Options, runner: ProcessRunner):
        self.options = options
        self.runner = runner
        self.account = DEFAULT_ACCOUNT_ID
        self.lock = threading.RLock()
        self.endpoint = ""  # set once the server listens
        self.faults = Faults()
        self.calls: Counter[str] = Counter()
        self.tasks: dict[str, TaskRun] = {}
        self.tokens: dict[tuple[str, str], tuple[str, list[str]]] = {}
        # (cluster as given, clientToken) → parameters of a RunTask answered with failures[] only
        self.failed_tokens: dict[tuple[str, str], str] = {}
        self.placed: dict[str, Counter[str]] = {}  # cluster → tasks per capacity provider
        self.credentials: dict[str, dict] = {}
        self.pump = LogPump(self.lock, self.account)
        ecs_hooks.install(self)
        moto_fixes.install()

    def set_launch_rate(self, rate: float) -> None:
        """Fargate's RunTask limits (calls a second, burst included; tasks: a burst of 5× then
        `rate` a second); 0 turns them off. Tests lower it to see throttling on a loaded machine."""
        self.launch_buckets = (Bucket(rate, rate), Bucket(5 * rate, rate))

    # -- RunTask's helpers (called by the hooks, under the lock) -------------------------------

    def pick_capacity_provider(self, cluster: str, strategy: list | None) -> str | None:
        """ECS's rule: each provider's `base` first, then the rest in proportion to `weight`."""
        if not strategy:
            return None
        placed = self.placed.setdefault(cluster, Counter())
        for item in strategy:
            if placed[item["capacityProvider"]] < item.get("base", 0):
                placed[item["capacityProvider"]] += 1
                return item["capacityProvider"]
        weighted = [s for s in strategy if s.get("weight", 0) > 0] or strategy[:1]
        # The provider furthest below its weight's share once this task is placed (ties: the
        # first listed).
        best = min(weighted, key=lambda s: (placed[s["capacityProvider"]] - s.get("base", 0) + 1)
                   / max(s.get("weight", 0), 1))
        placed[best["capacityProvider"]] += 1
        return best["capacityProvider"]

    def complete_network(self, config: dict | None, region: str) -> dict | None:
        """ECS uses the VPC's default security group when none is given; moto 500s instead."""
        if not config or "awsvpcConfiguration" not in config:
            return config
        vpc_config = dict(config["awsvpcConfiguration"])
        if not vpc_config.get("securityGroups") and vpc_config.get("subnets"):
            ec2 = ec2_backends[self.account][region]
            vpc = ec2.get_subnet(vpc_config["subnets"][0]).vpc_id
            default = ec2.get_security_group_from_name("default", vpc_id=vpc)
            vpc_config["securityGroups"] = [default.id]
        return {**config, "awsvpcConfiguration": vpc_config}

    def adopt(self, task, definition, token: str | None, provider: str | None, region: str) -> None:
        """Takes a task moto just created: its states become the agent's alone."""
        task._transitions = []  # moto would advance it on every DescribeTasks
        task.capacity_provider_name = provider
        task.launch_type = "FARGATE"
        task.platform_version = task.platform_version if task.platform_version not in (None, "LATEST") else "1.4.0"
        task.platform_family = "Linux"
        task.cpu = definition.cpu
        task.memory = definition.memory
        task.stop_code = None
        task.health_status = "UNKNOWN"
        task.connectivity = "CONNECTED"
        task.availability_zone = self._zone(task, region)
        run = TaskRun(self, task, definition, token, self.faults.take_task_faults(task.tags))
        self.tasks[task.task_arn] = run
        run.start()

    def _zone(self, task, region: str) -> str | None:
        try:
            subnet = task.network_configuration["awsvpcConfiguration"]["subnets"][0]
            return ec2_backends[self.account][region].get_subnet(subnet).availability_zone
        except Exception:
            return None

    # -- the task role's credentials, served to the containers ---------------------------------

    def task_credentials(self, task_id: str, authorization: str | None) -> dict | None:
        """The ECS container credential endpoint's answer for one task, or None (403)."""
        with self.lock:
            run = next((t for t in self.tasks.values() if t.id == task_id), None)
            if run is None or authorization != run.credentials_token:
                return None
            role = getattr(run.definition, "task_role_arn", None)
            if not role:
                return None
            cached = self.credentials.get(task_id)
            if cached is None or cached["expires"] - time.time() < 900:
                # assume_role in process: an ASIA… key moto checks against the role's policies.
                assumed = sts_backends[self.account]["aws"].assume_role(
                    region_name=self.options.region, role_session_name=f"ecs-task-{task_id[:16]}",
                    role_arn=role, policy="", duration=3600, external_id="")
                cached = {
                    "expires": assumed.expiration.replace(tzinfo=timezone.utc).timestamp(),
                    "body": {
                        "AccessKeyId": assumed.access_key_id, "SecretAccessKey": assumed.secret_access_key,
                        "Token": assumed.session_token, "RoleArn": role,
                        "Expiration": assumed.expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    },
                }
                self.credentials[task_id] = cached
            return cached["body"]

    # -- inspection and shutdown ---------------------------------------------------------------

    def describe_tasks(self) -> list[dict]:
        return [run.describe() for run in list(self.tasks.values())]

    def shutdown(self) -> None:
        runs = list(self.tasks.values())
        threads = [threading.Thread(target=run.kill_now, daemon=True) for run in runs if not run.done.is_set()]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        self.pump.close()

    def dumps(self, value) -> bytes:
        return json.dumps(value, default=str).encode()
