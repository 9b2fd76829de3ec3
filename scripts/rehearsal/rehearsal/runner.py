"""How a task's containers run: as local processes (the seam a Docker runner would fill).

A container here is one process in its own process group, started with PR_SET_PDEATHSIG so it
dies with the rehearsal, its standard output and error read line by line. The sidecar gets its
own free loopback port (processes share this machine's localhost, so 4444 cannot be used by every
task), exactly as CrawlRun's local backend does; a Docker runner would give each task one network
namespace instead and keep 4444.
"""

from __future__ import annotations

import ctypes
import json
import os
import shlex
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from typing import Callable

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:
    # Runs in the child between fork and exec. The signal fires when the thread that forked
    # exits, so containers are started from the task's own thread, which outlives them.
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def exit_code(returncode: int) -> int:
    """Docker's convention, which ECS reports: 128 + the signal for a killed process."""
    return 128 - returncode if returncode < 0 else returncode


class Container:
    """One running container: a process group whose output is delivered line by line."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: str,
                 on_line: Callable[[str], None], on_exit: Callable[[int], None]):
        self.name = name
        self.process = subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, process_group=0, preexec_fn=_die_with_parent, close_fds=True)
        self.pid = self.process.pid
        self.exit_code: int | None = None
        self._exited = threading.Event()
        self._on_line = on_line
        self._on_exit = on_exit
        self._reader = threading.Thread(target=self._read, name=f"{name}-out", daemon=True)
        self._reader.start()
        threading.Thread(target=self._wait, name=f"{name}-wait", daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self._on_line(raw.decode("utf-8", "replace").rstrip("\r\n"))

    def _wait(self) -> None:
        code = exit_code(self.process.wait())
        # The last lines first (a browser left in the group may hold the pipe open: bounded).
        self._reader.join(timeout=1)
        self.exit_code = code
        self._exited.set()
        self._on_exit(code)

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass

    def wait(self, timeout: float | None = None) -> bool:
        return self._exited.wait(timeout)

    @property
    def running(self) -> bool:
        return not self._exited.is_set()

    def stop(self, timeout: float) -> None:
        """ECS's stop: SIGTERM, then SIGKILL once the container's stopTimeout has passed. The
        whole group is signalled: chromedriver's browsers go with it."""
        if self.running:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            if not self._exited.wait(timeout):
                self.signal_group(signal.SIGKILL)
        self.signal_group(signal.SIGKILL)  # what the container left behind (Chrome)
        self._exited.wait(5)
        wait_until(lambda: not self.group_alive(), 5)

    def group_alive(self) -> bool:
        try:
            os.killpg(self.pid, 0)
            return True
        except ProcessLookupError:
            return False


class ProcessRunner:
    """Starts containers as local processes. `sidecar_argv` is the WebDriver command with
    `{port}` in it (chromedriver by default); every other container runs the built crawler."""

    def __init__(self, crawler: str, sidecar: str | None = None):
        self.crawler = crawler
        driver = os.environ.get("CHROMEDRIVER", "chromedriver")
        self.sidecar_argv = shlex.split(sidecar) if sidecar else [driver, "--port={port}"]

    @staticmethod
    def is_sidecar(definition: dict) -> bool:
        """The WebDriver sidecar is the container that publishes port 4444."""
        return any(m.get("containerPort") == 4444 for m in definition.get("portMappings", []))

    def network(self) -> dict:
        """A task's network: its own sidecar port on the shared loopback."""
        return {"host": "127.0.0.1", "port": free_port()}

    def start(self, definition: dict, env: dict[str, str], network: dict, workdir: str,
              on_line: Callable[[str], None], on_exit: Callable[[int], None]) -> Container:
        if self.is_sidecar(definition):
            argv = [a.replace("{port}", str(network["port"])) for a in self.sidecar_argv]
        elif os.path.basename((definition.get("entryPoint") or [""])[0]) == "crawlrun":
            # The coordinator task (crawlrun schedule): the built crawlrun beside the crawler.
            argv = [os.path.join(os.path.dirname(self.crawler), "crawlrun")] + definition["entryPoint"][1:]
        else:
            argv = [self.crawler]
        return Container(definition["name"], argv, env, workdir, on_line, on_exit)

    def healthy(self, definition: dict, network: dict, container: Container) -> bool:
        """The container's health check, played: the sidecar's GET /status says ready (the
        task definition's CMD-SHELL check, which needs curl in its image); any other container
        is healthy once it runs."""
        if not self.is_sidecar(definition):
            return container.running
        try:
            with urllib.request.urlopen(f"http://{network['host']}:{network['port']}/status", timeout=1) as r:
                return json.load(r).get("value", {}).get("ready") is True
        except (OSError, ValueError):
            return False

    def webdriver_url(self, network: dict, declared: str | None) -> str:
        """The crawler's WEBDRIVER_URL: the declared one (base path kept) on this task's port."""
        path = ""
        if declared and "://" in declared:
            rest = declared.split("://", 1)[1]
            path = rest[rest.index("/"):] if "/" in rest else ""
        return f"http://{network['host']}:{network['port']}{path}"


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
