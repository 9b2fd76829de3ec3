"""Each fault the rehearsal injects, as a coordinator sees it through the API."""

from __future__ import annotations

import time
import unittest

from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from .support import RehearsalCase, container


class FaultTests(RehearsalCase):
    def count(self) -> int:
        return len(self.rehearsal.tasks())

    def slow_batch(self, run: str, pages: int = 3, ms: int = 3000) -> tuple[str, str]:
        return self.account.put_batch(run, "b1", [self.site.base + f"/slow/{ms + i}" for i in range(pages)])

    def test_run_task_throttling(self):
        self.rehearsal.fault("runTaskThrottling", count=2)
        before = self.count()
        for _ in range(2):
            with self.assertRaises(ClientError) as e:
                self.account.run_task("s3://x/a", "s3://x/b")
            self.assertEqual(e.exception.response["Error"]["Code"], "ThrottlingException")
        self.assertEqual(self.count(), before, "a throttled call creates nothing")
        self.rehearsal.fault("stuckProvisioning")
        arn = self.account.run_task("s3://x/a", "s3://x/b")["tasks"][0]["taskArn"]  # the third passes
        self.account.ecs.stop_task(cluster=self.account.fargate["cluster"], task=arn)
        self.account.watch(arn)

    def test_run_task_capacity_failure(self):
        self.rehearsal.fault("runTaskCapacity")
        before = self.count()
        answer = self.account.run_task("s3://x/a", "s3://x/b")
        self.assertEqual(answer["tasks"], [])
        self.assertTrue(answer["failures"][0]["reason"].startswith("Capacity is unavailable at this time"))
        self.assertEqual(self.count(), before)

    def test_lost_run_task_response_and_the_client_token_retry(self):
        for mode, error in (("close", (ConnectionClosedError, EndpointConnectionError)), ("500", ClientError)):
            with self.subTest(mode=mode):
                token = f"lost-{mode}"
                self.rehearsal.fault("runTaskLostResponse", mode=mode)
                self.rehearsal.fault("stuckProvisioning")
                before = self.count()
                with self.assertRaises(error):
                    self.account.run_task("s3://x/a", "s3://x/b", clientToken=token)
                self.assertEqual(self.count(), before + 1, "the task was created all the same")
                retried = self.account.run_task("s3://x/a", "s3://x/b", clientToken=token)["tasks"][0]
                self.assertEqual(self.count(), before + 1, "the retry found it: one task, not two")
                created = [t for t in self.rehearsal.tasks() if t["clientToken"] == token]
                self.assertEqual([t["taskArn"] for t in created], [retried["taskArn"]])
                self.account.ecs.stop_task(cluster=self.account.fargate["cluster"], task=retried["taskArn"])
                self.account.watch(retried["taskArn"])

    def test_describe_tasks_server_error(self):
        self.rehearsal.fault("stuckProvisioning")
        arn = self.account.run_task("s3://x/a", "s3://x/b")["tasks"][0]["taskArn"]
        self.rehearsal.fault("describeTasksServerError")
        with self.assertRaises(ClientError) as e:
            self.account.ecs.describe_tasks(cluster=self.account.fargate["cluster"], tasks=[arn])
        self.assertEqual(e.exception.response["ResponseMetadata"]["HTTPStatusCode"], 500)
        self.assertEqual(self.account.ecs.describe_tasks(cluster=self.account.fargate["cluster"], tasks=[arn])["tasks"][0]["taskArn"], arn)
        self.account.ecs.stop_task(cluster=self.account.fargate["cluster"], task=arn)
        self.account.watch(arn)

    def test_cannot_pull_container(self):
        self.rehearsal.fault("cannotPullContainer")
        arn = self.account.run_task("s3://x/a", "s3://x/b")["tasks"][0]["taskArn"]
        task, seen = self.account.watch(arn)
        self.assertEqual(task["stopCode"], "TaskFailedToStart")
        self.assertTrue(task["stoppedReason"].startswith("CannotPullContainerError"), task["stoppedReason"])
        self.assertFalse([c for c in task["containers"] if "exitCode" in c], "no exit codes")
        self.assertTrue(all(c["reason"].startswith("CannotPullContainerError") for c in task["containers"]))
        self.assertNotIn("RUNNING", seen)
        self.assertIn("pullStartedAt", task)
        self.assertNotIn("startedAt", task)

    def test_stuck_in_provisioning_until_stop_task(self):
        self.rehearsal.fault("stuckProvisioning")
        arn = self.account.run_task("s3://x/a", "s3://x/b")["tasks"][0]["taskArn"]
        time.sleep(1)  # a span several times PROVISIONING's usual length: it must not move by itself
        self.assertEqual(self.account.ecs.describe_tasks(cluster=self.account.fargate["cluster"], tasks=[arn])["tasks"][0]["lastStatus"],
                         "PROVISIONING")
        self.account.ecs.stop_task(cluster=self.account.fargate["cluster"], task=arn, reason="stuck")
        task, _ = self.account.watch(arn)
        self.assertEqual((task["stopCode"], task["stoppedReason"]), ("UserInitiated", "stuck"))
        self.assertFalse([c for c in task["containers"] if "exitCode" in c])

    def test_spot_interruption_mid_batch(self):
        self.rehearsal.fault("spotInterruption", afterSeconds=1.5)
        batch, out = self.slow_batch("spot")
        arn = self.account.run_task(batch, out, capacityProviderStrategy=[
            {"capacityProvider": "FARGATE_SPOT", "weight": 1}])["tasks"][0]["taskArn"]
        task, _ = self.account.watch(arn)
        self.assertEqual(task["capacityProviderName"], "FARGATE_SPOT")
        self.assertEqual((task["stopCode"], task["stoppedReason"]), ("SpotInterruption", "Your Spot Task was interrupted."))
        self.assertEqual(container(task, "crawler")["exitCode"], 75, "SIGTERM: the crawler stops and says so")
        self.assertIn(container(task, "webdriver")["exitCode"], (0, 143))
        self.assertIn("spotInterruption", next(t for t in self.rehearsal.tasks() if t["taskArn"] == arn)["faults"])

    def test_crawler_killed_mid_batch(self):
        self.rehearsal.fault("crawlerKilled", afterSeconds=1.5)
        batch, out = self.slow_batch("killed")
        arn = self.account.run_task(batch, out)["tasks"][0]["taskArn"]
        task, _ = self.account.watch(arn)
        self.assertEqual(container(task, "crawler")["exitCode"], 137, "128 + SIGKILL")
        self.assertEqual(task["stopCode"], "EssentialContainerExited")
        self.assertEqual(container(task, "webdriver")["exitCode"], 143)
        with self.assertRaises(ClientError):
            self.account.results(out)  # nothing was written

    def test_late_log_tail(self):
        self.rehearsal.fault("lateLogTail", seconds=3)
        batch, out = self.account.put_batch("late", "b1", [self.site.base + "/page/1"])
        arn = self.account.run_task(batch, out)["tasks"][0]["taskArn"]
        task, _ = self.account.watch(arn)
        self.assertEqual(container(task, "crawler")["exitCode"], 0)
        stopped = time.monotonic()
        self.assertNotIn("crawler: done 1/1", "\n".join(self.account.log_lines("crawler", arn)))
        while "crawler: done 1/1" not in "\n".join(self.account.log_lines("crawler", arn)):
            self.assertLess(time.monotonic() - stopped, 10, "the tail never arrived")
            time.sleep(0.1)
        self.assertGreater(time.monotonic() - stopped, 1, "the tail came seconds after the stop")

    def test_a_task_fault_can_target_a_batch(self):
        self.rehearsal.fault("stuckProvisioning", batch="0002")
        other = self.account.run_task("s3://x/a", "s3://x/b", tags=[{"key": "crawlrun:batch", "value": "0001"}])
        target = self.account.run_task("s3://x/a", "s3://x/b", tags=[{"key": "crawlrun:batch", "value": "0002"}])
        faults = {t["taskArn"]: t["faults"] for t in self.rehearsal.tasks()}
        self.assertEqual(faults[other["tasks"][0]["taskArn"]], [], "batch 0001 is not the target")
        self.assertEqual(faults[target["tasks"][0]["taskArn"]], ["stuckProvisioning"])
        self.assertEqual(self.rehearsal.control("GET", "faults")["armed"], {}, "consumed by its batch")
        for answer in (other, target):
            arn = answer["tasks"][0]["taskArn"]
            self.account.ecs.stop_task(cluster=self.account.fargate["cluster"], task=arn)
            self.account.watch(arn)

    def test_unknown_fault_is_refused(self):
        with self.assertRaises(Exception) as e:
            self.rehearsal.fault("noSuchFault")
        self.assertIn("400", str(e.exception))


if __name__ == "__main__":
    unittest.main()
