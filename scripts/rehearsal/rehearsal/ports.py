"""What the agent and the ECS hooks need of the rehearsal's state, as interfaces.

`core.Rehearsal` owns the tasks (`agent.TaskRun`) and installs the hooks (`ecs_hooks`); both call
back into it. They know it only through these protocols, so the imports run one way —
core → agent → ports, ecs_hooks → ports — and no module needs the one that imports it (issue 22).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .logpump import LogPump
    from .options import Options
    from .runner import ProcessRunner


class AgentHost(Protocol):
    """What a task's agent uses: the lock around moto's models, the settings, the container
    runner, the log pump, the account."""

    lock: threading.RLock
    options: Options
    runner: ProcessRunner
    pump: LogPump
    account: str


class RunningTask(Protocol):
    """What the hooks ask of a task the agent runs (`agent.TaskRun`)."""

    def request_stop(self, stop_code: str, reason: str) -> None: ...

    def not_yet_visible(self) -> bool: ...


class TaskHost(Protocol):
    """What RunTask and StopTask's hooks use: the tasks the agent runs, the clientTokens seen, and
    the helpers that place and take a task moto has just created."""

    tasks: Mapping[str, RunningTask]
    # (cluster ARN, clientToken) → (parameters, task ARNs)
    tokens: dict[tuple[str, str], tuple[str, list[str]]]
    # (cluster as given, clientToken) → parameters of a RunTask answered with failures[] only
    failed_tokens: dict[tuple[str, str], str]

    def pick_capacity_provider(self, cluster: str, strategy: list | None) -> str | None: ...

    def complete_network(self, config: dict | None, region: str) -> dict | None: ...

    def adopt(self, task, definition, token: str | None, provider: str | None, region: str) -> None: ...
