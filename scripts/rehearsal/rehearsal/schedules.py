"""Scheduled runs on the rehearsal (README "Scheduled runs on AWS"). moto 5.2.1 stores EventBridge
Scheduler schedules but never fires them; these routes play the scheduler:

  POST /_rehearsal/scheduled-setup  {policies: {coordinatorTaskRole, schedulerRole, scheduling},
                                     coordinatorRoleName?, schedulerRoleName?, userName?}
                                    the two roles of a scheduled run, holding what
                                    `crawlrun iam-policy JOB --scheduled` printed, and the
                                    scheduling policy on the user that runs `crawlrun schedule`
  GET  /_rehearsal/events           the events a rule `crawlrun-finished` (made by the scheduled
                                    set-up: source crawlrun → log group /crawlrun/events) delivered
  POST /_rehearsal/fire             {name, group?}: reads the schedule's target and makes the
                                    RunTask the scheduler would, as the schedule's role (IAM
                                    checked); answers {taskArns, failures}

Kept apart from control.py (minimal hooks there) so the set-up of a plain run does not change.
"""

from __future__ import annotations

import json

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.scheduler.models import scheduler_backends
from moto.sts.models import sts_backends

TRUST = lambda service: {  # noqa: E731
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
}


class ScheduleError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _role(iam, name: str, service: str) -> str:
    try:
        return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST(service)))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        return iam.get_role(RoleName=name)["Role"]["Arn"]


def setup(control, data: dict) -> dict:
    from .auth import auth_enforced, enforce_auth, moto_evaluable

    policies = data.get("policies") or {}
    missing = [k for k in ("coordinatorTaskRole", "schedulerRole", "scheduling") if k not in policies]
    if missing:
        raise ScheduleError(400, f"scheduled set-up needs policies.{', policies.'.join(missing)}")
    was = auth_enforced()
    enforce_auth(False)
    try:
        iam = control._clients(control.r.options.region)("iam")
        coordinator = data.get("coordinatorRoleName", "crawlrun-coordinator")
        scheduler = data.get("schedulerRoleName", "crawlrun-scheduler")
        arns = {"coordinatorRoleArn": _role(iam, coordinator, "ecs-tasks.amazonaws.com"),
                "schedulerRoleArn": _role(iam, scheduler, "scheduler.amazonaws.com")}
        iam.attach_role_policy(RoleName=coordinator, PolicyArn=control._policy(
            iam, coordinator + "-policy", moto_evaluable(policies["coordinatorTaskRole"])))
        iam.attach_role_policy(RoleName=scheduler, PolicyArn=control._policy(
            iam, scheduler + "-policy", moto_evaluable(policies["schedulerRole"])))
        user = data.get("userName", "crawlrun-coordinator")
        iam.attach_user_policy(UserName=user, PolicyArn=control._policy(
            iam, user + "-scheduling", moto_evaluable(policies["scheduling"])))
        # The README's rule, delivered to a log group (moto's EventBridge delivers to Logs, not SNS).
        clients = control._clients(control.r.options.region)
        logs = clients("logs")
        if not logs.describe_log_groups(logGroupNamePrefix=EVENTS_GROUP)["logGroups"]:
            logs.create_log_group(logGroupName=EVENTS_GROUP)
        events = clients("events")
        events.put_rule(Name="crawlrun-finished", EventPattern=json.dumps(
            {"source": ["crawlrun"], "detail-type": ["Crawl Run Finished"]}))
        events.put_targets(Rule="crawlrun-finished", Targets=[{
            "Id": "log", "Arn": f"arn:aws:logs:{control.r.options.region}:{control.r.account}:log-group:{EVENTS_GROUP}"}])
    finally:
        enforce_auth(was)
    return arns


EVENTS_GROUP = "/crawlrun/events"


def delivered_events(rehearsal) -> list:
    from moto.logs.models import logs_backends

    with rehearsal.lock:
        group = logs_backends[rehearsal.account][rehearsal.options.region].groups.get(EVENTS_GROUP)
        if group is None:
            return []
        found = []
        for stream in group.streams.values():
            found += [(e.timestamp, json.loads(e.message)) for e in stream.events]
    return [event for _, event in sorted(found, key=lambda x: x[0])]


def fire(rehearsal, data: dict) -> dict:
    """One fire of the schedule: EventBridge Scheduler assumes the schedule's role and calls
    ECS RunTask with the target's EcsParameters (their Scheduler spelling turned into ECS's).
    https://docs.aws.amazon.com/scheduler/latest/APIReference/API_EcsParameters.html"""
    name, group = data.get("name"), data.get("group") or "default"
    region = rehearsal.options.region
    try:
        schedule = scheduler_backends[rehearsal.account][region].get_schedule(group, name)
    except Exception as e:  # ScheduleNotFound / ScheduleGroupNotFound
        raise ScheduleError(404, f"no schedule {group}/{name}: {e}")
    target = schedule.target
    ecs_parameters = target.get("EcsParameters") or {}
    if not ecs_parameters:
        raise ScheduleError(400, f"schedule {group}/{name} has no ECS RunTask target")
    with rehearsal.lock:
        assumed = sts_backends[rehearsal.account]["aws"].assume_role(
            region_name=region, role_session_name=f"scheduler-{name}"[:64], role_arn=target["RoleArn"],
            policy="", duration=900, external_id="")
    ecs = boto3.client("ecs", region_name=region, endpoint_url=rehearsal.endpoint,
                       aws_access_key_id=assumed.access_key_id, aws_secret_access_key=assumed.secret_access_key,
                       aws_session_token=assumed.session_token, config=Config(retries={"total_max_attempts": 1}))
    vpc = (ecs_parameters.get("NetworkConfiguration") or {}).get("awsvpcConfiguration") or {}
    request = {
        "cluster": target["Arn"], "taskDefinition": ecs_parameters["TaskDefinitionArn"],
        "count": ecs_parameters.get("TaskCount", 1), "launchType": ecs_parameters.get("LaunchType", "FARGATE"),
        "networkConfiguration": {"awsvpcConfiguration": {
            "subnets": vpc.get("Subnets", []), "securityGroups": vpc.get("SecurityGroups", []),
            "assignPublicIp": vpc.get("AssignPublicIp", "DISABLED")}},
        # What the scheduler sets: the schedule's ARN names who started the task.
        "startedBy": "chronos-" + name[:27],
    }
    if ecs_parameters.get("PlatformVersion"):
        request["platformVersion"] = ecs_parameters["PlatformVersion"]
    try:
        out = ecs.run_task(**request)
    except ClientError as e:
        raise ScheduleError(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400),
                            f"RunTask as {target['RoleArn']}: {e}")
    with rehearsal.lock:
        rehearsal.calls["rehearsal:Fire"] += 1
    return {"taskArns": [t["taskArn"] for t in out.get("tasks", [])], "failures": out.get("failures", [])}
