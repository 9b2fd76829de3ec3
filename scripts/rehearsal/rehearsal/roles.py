"""What a role's own policies allow, read in process from moto's IAM: the checks ECS makes with
the execution role before a task's containers start (moto never sees those calls).

Like moto, Resource and Condition are not evaluated; an explicit Deny of the action wins.
"""

from __future__ import annotations

import fnmatch
import json

from moto.iam.models import iam_backends
from moto.sts.models import sts_backends


def _statements(document) -> list[dict]:
    doc = json.loads(document) if isinstance(document, str) else document
    statements = doc.get("Statement", [])
    return [statements] if isinstance(statements, dict) else statements


def _actions(statement: dict) -> list[str]:
    actions = statement.get("Action", [])
    return [actions] if isinstance(actions, str) else actions


def _documents(holder) -> list:
    """A user's or role's inline and attached policy documents."""
    documents = list(holder.policies.values())
    for policy in holder.managed_policies.values():
        documents += [v.document for v in policy.versions if v.is_default]
    return documents


def _allows(documents: list, action: str, resource: str | None, unconditional: bool) -> bool:
    allowed = False
    for document in documents:
        for s in _statements(document):
            if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _actions(s)):
                continue
            if resource is not None:
                resources = s.get("Resource", "*")
                resources = [resources] if isinstance(resources, str) else resources
                if not any(fnmatch.fnmatchcase(resource, r) for r in resources):
                    continue
            if s.get("Effect") == "Deny":
                return False
            if unconditional and s.get("Condition"):
                continue
            allowed = allowed or s.get("Effect") == "Allow"
    return allowed


def role_allows(account: str, role_arn: str | None, action: str) -> bool:
    if not role_arn:
        return False
    try:
        role = iam_backends[account]["aws"].get_role_by_arn(role_arn)
    except Exception:
        return False
    return _allows(_documents(role), action, None, False)


def key_allows_unconditionally(account: str, access_key_id: str, action: str, resource: str) -> bool | None:
    """Whether the holder of this access key (an IAM user, or a role through an assumed-role
    key) has `action` on `resource` by a statement without a Condition; None when the key is
    not known here (then moto's own answer stands)."""
    holder = None
    user = iam_backends[account]["aws"].get_user_from_access_key_id(access_key_id)
    if user is not None:
        holder = user
    else:
        assumed = sts_backends[account]["aws"].get_assumed_role_from_access_key(access_key_id)
        if assumed is not None:
            try:
                holder = iam_backends[account]["aws"].get_role_by_arn(assumed.role_arn)
            except Exception:
                return None
    if holder is None:
        return None
    return _allows(_documents(holder), action, resource, True)
