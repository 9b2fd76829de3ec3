"""The rehearsal's own lifetime: every process it started goes when it stops, or when the
process that started it dies."""

from __future__ import annotations

import os
import signal
import time
import unittest

from .support import Account, RehearsalProcess, Site, group_alive


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ", 1)[1][0] != "Z"


class LifetimeTests(unittest.TestCase):
    def setUp(self):
        self.site = Site()
        self.addCleanup(self.site.stop)

    def running_task(self, rehearsal: RehearsalProcess) -> dict[str, int]:
        """A task crawling slow pages, once RUNNING: its containers' process groups."""
        account = Account(rehearsal)
        batch, out = account.put_batch("life", "b1", [self.site.base + f"/slow/{5000 + i}" for i in range(3)])
        arn = account.run_task(batch, out)["tasks"][0]["taskArn"]
        deadline = time.monotonic() + 60
        while True:
            task = next(t for t in rehearsal.tasks() if t["taskArn"] == arn)
            if task["lastStatus"] == "RUNNING":
                return task["pids"]
            self.assertLess(time.monotonic(), deadline, task)
            time.sleep(0.05)

    def test_sigterm_stops_every_task_process(self):
        rehearsal = RehearsalProcess()
        pids = self.running_task(rehearsal)
        self.assertTrue(all(group_alive(p) for p in pids.values()))
        self.assertEqual(rehearsal.stop(), 0)
        self.assertFalse([p for p in pids.values() if group_alive(p)], "task processes outlived the rehearsal")

    def test_the_rehearsal_follows_its_parent(self):
        rehearsal = RehearsalProcess(via_parent=True)
        pids = self.running_task(rehearsal)
        rehearsal.process.send_signal(signal.SIGKILL)  # the parent dies without a word
        rehearsal.process.wait(5)
        self.addCleanup(rehearsal.close)
        deadline = time.monotonic() + 15
        while alive(rehearsal.pid) or any(group_alive(p) for p in pids.values()):
            self.assertLess(time.monotonic(), deadline, "the rehearsal or its tasks outlived its parent")
            time.sleep(0.1)


if __name__ == "__main__":
    unittest.main()
