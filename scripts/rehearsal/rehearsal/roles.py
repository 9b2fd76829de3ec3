"""What a role's own policies allow, read in process from moto's IAM: the checks ECS makes with
the execution role before a task's containers start (moto never sees those calls).

Like moto, Resource and Condition are not evaluated; an explicit Deny of the action wins.
"""

from __future__ import annotations

import fnmatch
import json

from moto.iam.models import iam_backends


def _statements(document) -> list[dict]:
    doc = json.loads(document) if isinstance(document, str) else document
    statements = doc.get("Statement", [])
    return [statements] if isinstance(statements, dict) else statements


def _actions(statement: dict) -> list[str]:
    actions = statement.get("Action", [])
    return [actions] if isinstance(actions, str) else actions


def role_allows(account: str, role_arn: str | None, action: str) -> bool:
    if not role_arn:
        return False
    try:
        role = iam_backends[account]["aws"].get_role_by_arn(role_arn)
    except Exception:
        return False
    documents = list(role.policies.values())
    for policy in role.managed_policies.values():
        documents += [v.document for v in policy.versions if v.is_default]
    allowed = False
    for document in documents:
        for s in _statements(document):
            if any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _actions(s)):
                if s.get("Effect") == "Deny":
                    return False
                allowed = allowed or s.get("Effect") == "Allow"
    return allowed
