"""The rehearsal's settings (the command line's flags), shared by the state and the agent."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Options:
    region: str = "us-east-1"
    provision_seconds: float = 0.1  # PROVISIONING and DEPROVISIONING each last this long
    pull_seconds: float = 0.1  # PENDING before the containers start (the "image pull")
    health_timeout: float = 60.0  # a health check UNHEALTHY after at most this long (the task goes on waiting)
    launch_rate: float = 20.0  # Fargate's RunTask calls and task launches per second (0: unlimited)
    max_start_timeout: float | None = None  # cap on a container's startTimeout (tests: seconds, not minutes)
    max_stop_timeout: float = 120.0  # Fargate's ceiling for a container's stopTimeout
