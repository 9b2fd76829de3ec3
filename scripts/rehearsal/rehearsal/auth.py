"""moto's authorization switch and the policies it can evaluate: shared by the control API
(control.py) and the scheduled runs' set-up (schedules.py), which must not import each other."""

from __future__ import annotations

from moto import settings
from moto.core.authorization import ActionAuthenticatorMixin


def moto_evaluable(policy: dict) -> dict:
    """moto checks S3 statements against the object's ARN but evaluates ECS and CloudWatch Logs
    calls against the resource "*" (moto/core/responses.py `call_action`; access_control.py:
    "TODO add support for the Resource and Condition parts of IAM policies"), so a statement
    scoped to the job's cluster or log group could never match there. Those statements get
    `Resource: "*"`; their actions, and every S3 statement, stay as `crawlrun iam-policy` printed
    them (the same rule as the Swift tests' MotoAccount.motoEvaluable)."""
    statements = []
    for s in policy.get("Statement", []):
        actions = s.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not all(a.startswith("s3:") for a in actions):
            s = {**s, "Resource": "*"}
        statements.append(s)
    return {**policy, "Statement": statements}


def enforce_auth(enforce: bool) -> None:
    """moto's reset-auth, in process: from the next call on, every signature and permission is
    checked (0), or none is (infinity)."""
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0 if enforce else float("inf")
    ActionAuthenticatorMixin.request_count = 0


def auth_enforced() -> bool:
    return settings.INITIAL_NO_AUTH_ACTION_COUNT != float("inf")
