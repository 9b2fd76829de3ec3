"""Where moto 5.2.1's ECS differs from ECS, replaced so a coordinator sees ECS's behaviour.

RunTask (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html): clientToken
idempotency (same token + same parameters → the same tasks; other parameters → ConflictException),
capacityProviderStrategy → FARGATE / FARGATE_SPOT (moto 500s without launchType), ECS's limits
(count ≤ 10, startedBy ≤ 36, overrides ≤ 8192 characters, ≤ 50 tags), then the agent runs each
task. StopTask: desiredStatus STOPPED, stopCode UserInitiated, the agent stops the containers and
moves lastStatus (moto jumps to STOPPED). ListTasks: desiredStatus RUNNING by default, maxResults
and nextToken, startedBy refused with any other filter. DescribeTasks: unknown tasks in failures[] with reason MISSING.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING

from moto.core.responses import ActionResult
from moto.ecs.exceptions import ECSException, InvalidParameterException
from moto.ecs.responses import EC2ContainerServiceResponse

if TYPE_CHECKING:
    from .ports import TaskHost

OVERRIDES_LIMIT = 8192
CAPACITY_REASON = "Capacity is unavailable at this time. Please try again later or in a different availability zone"
STARTED_BY_LIMIT = 36  # older SDKs and StartTask enforce 36 (ECS-NOTES.md)

_rehearsal: TaskHost | None = None


class ConflictException(ECSException):
    code = "ConflictException"

    def __init__(self, message: str, resource_ids: list[str]):
        super().__init__(message)
        self.resource_ids = resource_ids


def _body(response: EC2ContainerServiceResponse) -> dict:
    raw = response.body
    if isinstance(raw, bytes):
        raw = raw.decode()
    return json.loads(raw or "{}")


def _check_limits(body: dict) -> None:
    count = body.get("count", 1)
    if not isinstance(count, int) or not 1 <= count <= 10:
        raise InvalidParameterException("count must be between 1 and 10.")
    if len(body.get("startedBy") or "") > STARTED_BY_LIMIT:
        raise InvalidParameterException(f"startedBy must be at most {STARTED_BY_LIMIT} characters.")
    overrides = body.get("overrides")
    if overrides and len(json.dumps(overrides, separators=(",", ":"))) > OVERRIDES_LIMIT:
        raise InvalidParameterException(f"Container Overrides length must be at most {OVERRIDES_LIMIT}")
    if len(body.get("tags") or []) > 50:
        raise InvalidParameterException("Tags can contain at most 50 tags.")
    token = body.get("clientToken")
    if token is not None and (not 1 <= len(token) <= 64 or any(not 33 <= ord(ch) <= 126 for ch in token)):
        raise InvalidParameterException("clientToken must be 1 to 64 ASCII characters (33-126).")
    if body.get("launchType") and body.get("capacityProviderStrategy"):
        raise InvalidParameterException(
            "Specifying both a launch type and capacity provider strategy is not supported. "
            "Remove one and try again.")


def fingerprint(body: dict) -> str:
    """A RunTask request's parameters, its clientToken aside."""
    return json.dumps({k: v for k, v in body.items() if k != "clientToken"}, sort_keys=True)


def run_task(self: EC2ContainerServiceResponse) -> ActionResult:
    r = _rehearsal
    assert r is not None
    body = _body(self)
    _check_limits(body)
    backend = self.ecs_backend
    cluster = backend._get_cluster(body.get("cluster", "default"))
    token = body.get("clientToken")
    params = fingerprint(body)
    failed = r.failed_tokens.get((body.get("cluster", "default"), token)) if token else None
    if failed is not None:
        if failed != params:
            raise ConflictException(
                "The specified clientToken is already in use with a different RunTask request.", [])
        # The token's answer was failures[] only: ECS gives it again (it started no task).
        return ActionResult({"tasks": [], "failures": [{"reason": CAPACITY_REASON}]})
    if token:
        known = r.tokens.get((cluster.arn, token))
        if known:
            if known[0] != params:
                raise ConflictException(
                    "The specified clientToken is already in use with a different RunTask request.", known[1])
            tasks = [backend.tasks[cluster.name][arn] for arn in known[1]]
            return ActionResult({"tasks": tasks, "failures": []})
    # "The specified capacity provider strategy cannot contain a capacity provider that is not
    # associated with the cluster" (CapacityProviderStrategyItem; PutClusterCapacityProviders).
    # https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CapacityProviderStrategyItem.html
    associated = cluster.capacity_providers or []
    for item in body.get("capacityProviderStrategy") or []:
        if item.get("capacityProvider") not in associated:
            raise InvalidParameterException(
                "The specified capacity provider strategy cannot contain a capacity provider that is not associated "
                "with the cluster. Associate the capacity provider with the cluster or specify a valid capacity "
                "provider and try again.")
    definition = backend.describe_task_definition(body["taskDefinition"])
    network = r.complete_network(body.get("networkConfiguration"), self.region)
    tasks = []
    for _ in range(body.get("count", 1)):
        provider = r.pick_capacity_provider(cluster.arn, body.get("capacityProviderStrategy"))
        # moto places tasks without a launch type on EC2 container instances, and has none.
        (task,) = backend.run_task(
            cluster.name, body["taskDefinition"], 1, body.get("overrides"), body.get("startedBy"),
            body.get("tags"), body.get("launchType") or "FARGATE", network, body.get("group"),
            body.get("platformVersion"))
        r.adopt(task, definition, token, provider, self.region)
        tasks.append(task)
    if token:
        r.tokens[(cluster.arn, token)] = (params, [t.task_arn for t in tasks])
    return ActionResult({"tasks": tasks, "failures": []})


def stop_task(self: EC2ContainerServiceResponse) -> ActionResult:
    r = _rehearsal
    assert r is not None
    body = _body(self)
    cluster = self.ecs_backend._get_cluster(body.get("cluster", "default"))
    wanted = body.get("task", "")
    task = next((t for arn, t in self.ecs_backend.tasks.get(cluster.name, {}).items()
                 if arn == wanted or arn.rsplit("/", 1)[-1] == wanted), None)
    if task is None:
        raise InvalidParameterException("The referenced task was not found.")
    run = r.tasks.get(task.task_arn)
    if run is not None:
        run.request_stop("UserInitiated", body.get("reason") or "Task stopped by user")
    return ActionResult({"task": task})


def list_tasks(self: EC2ContainerServiceResponse) -> ActionResult:
    body = _body(self)
    # "When you specify startedBy as the filter, it must be the only filter that you use."
    # https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListTasks.html (moto accepts it)
    others = [k for k in ("containerInstance", "family", "serviceName", "desiredStatus", "launchType")
              if body.get(k)]
    if body.get("startedBy") and others:
        raise InvalidParameterException(
            "startedBy must be the only filter when it is specified: remove " + ", ".join(others) + ".")
    limit = body.get("maxResults", 100)
    if not isinstance(limit, int) or not 1 <= limit <= 100:
        raise InvalidParameterException("maxResults must be between 1 and 100.")
    tasks = self.ecs_backend.list_tasks(
        body.get("cluster", "default"), body.get("containerInstance"), body.get("family"), body.get("startedBy"),
        body.get("serviceName"), body.get("desiredStatus") or "RUNNING")
    arns = [t.task_arn for t in tasks]
    start = 0
    if body.get("nextToken"):
        try:
            start = int(base64.urlsafe_b64decode(body["nextToken"].encode()).decode())
        except ValueError:
            raise InvalidParameterException("Invalid nextToken.")
    result: dict = {"taskArns": arns[start:start + limit]}
    if start + limit < len(arns):
        result["nextToken"] = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
    return ActionResult(result)


def describe_tasks(self: EC2ContainerServiceResponse) -> str:
    """By ARN or id, in the order asked (moto scans every task of every cluster with a substring
    test per ARN asked: slow at a thousand tasks, and loose)."""
    body = _body(self)
    wanted = body.get("tasks") or []
    if not wanted:
        raise InvalidParameterException("Tasks cannot be empty.")
    if len(wanted) > 100:
        raise InvalidParameterException("Tasks cannot be more than 100.")
    cluster = self.ecs_backend._get_cluster(body.get("cluster", "default"))
    by_arn = self.ecs_backend.tasks.get(cluster.name, {})
    tasks, failures = [], []
    r = _rehearsal
    for w in wanted:
        task = by_arn.get(w) or by_arn.get(f"{cluster.arn.replace(':cluster/', ':task/', 1)}/{w}")
        run = r.tasks.get(task.task_arn) if task is not None and r is not None else None
        if task is None or (run is not None and run.not_yet_visible()):
            failures.append({"arn": w, "reason": "MISSING"})
        else:
            tasks.append(task)
    tags = "TAGS" in (body.get("include") or [])
    # Written here rather than by moto's model-driven serializer, which takes about 2 ms a task:
    # a thousand running tasks would hold the lock for seconds per poll.
    return json.dumps({"tasks": [task_json(t, tags) for t in tasks], "failures": failures})


TASK_FIELDS = {
    "taskArn": "task_arn", "clusterArn": "cluster_arn", "taskDefinitionArn": "task_definition_arn",
    "lastStatus": "last_status", "desiredStatus": "desired_status", "launchType": "launch_type",
    "capacityProviderName": "capacity_provider_name", "platformVersion": "platform_version",
    "platformFamily": "platform_family", "cpu": "cpu", "memory": "memory", "group": "group",
    "startedBy": "started_by", "overrides": "overrides", "attachments": "attachments",
    "availabilityZone": "availability_zone", "connectivity": "connectivity", "healthStatus": "health_status",
    "stopCode": "stop_code", "stoppedReason": "stopped_reason", "containers": "containers",
}
TASK_TIMES = {
    "createdAt": "created_at", "pullStartedAt": "pull_started_at", "pullStoppedAt": "pull_stopped_at",
    "startedAt": "started_at", "connectivityAt": "connectivity_at", "stoppingAt": "stopping_at",
    "executionStoppedAt": "execution_stopped_at", "stoppedAt": "stopped_at",
}


def task_json(task, tags: bool) -> dict:
    """DescribeTasks' Task shape, as moto would serialize it: None and empty strings left out,
    times as epoch seconds."""
    out = {key: getattr(task, attr, None) for key, attr in TASK_FIELDS.items()}
    out.update({key: getattr(task, attr).timestamp() for key, attr in TASK_TIMES.items()
                if getattr(task, attr, None) is not None})
    if tags:
        out["tags"] = task.tags
    return {k: v for k, v in out.items() if v is not None and v != ""}


def install(rehearsal: TaskHost) -> None:
    global _rehearsal
    _rehearsal = rehearsal
    EC2ContainerServiceResponse.run_task = run_task  # type: ignore[method-assign]
    EC2ContainerServiceResponse.stop_task = stop_task  # type: ignore[method-assign]
    EC2ContainerServiceResponse.list_tasks = list_tasks  # type: ignore[method-assign]
    EC2ContainerServiceResponse.describe_tasks = describe_tasks  # type: ignore[method-assign]
