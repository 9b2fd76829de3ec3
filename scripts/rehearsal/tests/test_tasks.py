"""Tasks run for real: a crawler batch from S3 to S3 with the task role, DescribeTasks' story,
StopTask, and ECS's API rules (clientToken, capacity providers, limits, ListTasks, MISSING)."""

from __future__ import annotations

import time
import unittest

from botocore.exceptions import ClientError

from .support import RehearsalCase, container, group_alive

LIFECYCLE = ["PROVISIONING", "PENDING", "RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED"]


def subsequence(seen: list[str], full: list[str]) -> bool:
    it = iter(full)
    return all(s in it for s in seen)


class TaskTests(RehearsalCase):
    def stuck_task(self, **extra) -> str:
        """A task that stays in PROVISIONING (no processes): for API-rule tests."""
        self.rehearsal.fault("stuckProvisioning")
        return self.account.run_task("s3://x/y", "s3://x/z", **extra)["tasks"][0]["taskArn"]

    def stop(self, arn: str) -> dict:
        self.account.ecs.stop_task(cluster=self.account.fargate["cluster"], task=arn, reason="test over")
        return self.account.watch(arn)[0]

    def test_batch_runs_from_s3_to_s3_with_the_task_role(self):
        urls = [self.site.base + "/page/1", self.site.base + "/page/2", self.site.base + "/missing"]
        batch, out = self.account.put_batch("r1", "b1", urls)
        before = self.rehearsal.control("GET", "calls")["calls"].get("rehearsal:ContainerCredentials", 0)
        arn = self.account.run_task(batch, out)["tasks"][0]["taskArn"]
        task, seen = self.account.watch(arn)

        self.assertEqual(seen[0], "PROVISIONING")
        self.assertTrue(subsequence(seen, LIFECYCLE), seen)
        self.assertEqual([s["status"] for s in self.inspected(arn)["states"]], LIFECYCLE)
        self.assertEqual(task["desiredStatus"], "STOPPED")
        self.assertEqual(task["stopCode"], "EssentialContainerExited")
        self.assertEqual(container(task, "crawler")["exitCode"], 0)
        self.assertEqual(container(task, "webdriver")["exitCode"], 143, "SIGTERM after the crawler exited")
        self.assertEqual(container(task, "webdriver")["healthStatus"], "HEALTHY")
        times = [task[k] for k in ("createdAt", "pullStartedAt", "pullStoppedAt", "startedAt", "stoppingAt",
                                   "executionStoppedAt", "stoppedAt")]
        self.assertEqual(times, sorted(times))
        self.assertEqual((task["launchType"], task["cpu"], task["memory"]), ("FARGATE", "1024", "4096"))

        records = self.account.results(out)
        self.assertEqual(sorted(r["url"] for r in records), sorted(urls), "one record per URL")
        self.assertEqual([r["ok"] for r in records if r["url"].endswith("/missing")], [False])
        self.assertEqual({r["fields"]["heading"] for r in records if r["ok"]}, {"page 1", "page 2"})
        calls = self.rehearsal.control("GET", "calls")["calls"]
        self.assertGreater(calls["rehearsal:ContainerCredentials"], before, "credentials from the task endpoint")

        crawler_log = self.account.log_lines("crawler", arn)
        self.assertIn("crawler: done 3/3", "\n".join(crawler_log))
        self.assertTrue(self.account.log_lines("webdriver", arn), "the sidecar's output is in its stream")
        pids = self.inspected(arn)["pids"]
        self.assertEqual(sorted(pids), ["crawler", "webdriver"])
        self.assertFalse([p for p in pids.values() if group_alive(p)], "no process of a stopped task is left")

    def test_the_task_role_is_checked_by_iam(self):
        # Under the job's prefix (the coordinator may write it) but not under batches/, which is
        # all the task role may read: the crawler's read is refused. (The crawler exits 65 for a
        # batch that does not exist, 70 for one it cannot read: Sources/Crawler/BatchInput.swift.)
        key = f"{self.account.prefix}r2/elsewhere/b.json"
        self.account.s3.put_object(Bucket=self.account.fargate["bucket"], Key=key, Body=b"{}")
        bucket = self.account.fargate["bucket"]
        arn = self.account.run_task(f"s3://{bucket}/{key}", f"s3://{bucket}/{self.account.prefix}r2/results/b.jsonl")[
            "tasks"][0]["taskArn"]
        task, _ = self.account.watch(arn)
        self.assertEqual(container(task, "crawler")["exitCode"], 70)
        self.assertIn("AccessDenied", "\n".join(self.account.log_lines("crawler", arn)))

    def test_stop_task_stops_the_processes(self):
        urls = [self.site.base + f"/slow/{4000 + i}" for i in range(3)]
        batch, out = self.account.put_batch("r3", "b1", urls)
        arn = self.account.run_task(batch, out)["tasks"][0]["taskArn"]
        cluster = self.account.fargate["cluster"]
        deadline = time.monotonic() + 60
        while self.account.ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]["lastStatus"] != "RUNNING":
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        # The crawler handles SIGTERM once it has read its batch: wait for it to be crawling (on a
        # loaded machine RUNNING comes well before that; a SIGTERM earlier kills it with 143).
        while not any("WebDriver ready" in line for line in self.account.log_lines("crawler", arn)):
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        stopped = self.account.ecs.stop_task(cluster=cluster, task=arn, reason="enough")["task"]
        self.assertEqual((stopped["desiredStatus"], stopped["stopCode"], stopped["stoppedReason"]),
                         ("STOPPED", "UserInitiated", "enough"))
        self.assertNotEqual(stopped["lastStatus"], "STOPPED", "the agent, not StopTask, moves lastStatus")
        task, _ = self.account.watch(arn)
        self.assertEqual(task["stopCode"], "UserInitiated")
        self.assertEqual(container(task, "crawler")["exitCode"], 75, "the crawler's own SIGTERM exit")
        self.assertIn(container(task, "webdriver")["exitCode"], (0, 143))
        self.assertFalse([p for p in self.inspected(arn)["pids"].values() if group_alive(p)])

    def test_client_token_makes_run_task_idempotent(self):
        self.rehearsal.fault("stuckProvisioning")
        first = self.account.run_task("s3://x/a", "s3://x/b", clientToken="run1-b7-a1")["tasks"][0]
        again = self.account.run_task("s3://x/a", "s3://x/b", clientToken="run1-b7-a1")["tasks"][0]
        self.assertEqual(first["taskArn"], again["taskArn"])
        with self.assertRaises(ClientError) as e:
            self.account.run_task("s3://x/OTHER", "s3://x/b", clientToken="run1-b7-a1")
        self.assertEqual(e.exception.response["Error"]["Code"], "ConflictException")
        self.assertEqual([t["taskArn"] for t in self.rehearsal.tasks() if t["clientToken"] == "run1-b7-a1"],
                         [first["taskArn"]])
        self.stop(first["taskArn"])

    def test_capacity_provider_strategy_places_on_fargate_and_spot(self):
        strategy = [{"capacityProvider": "FARGATE_SPOT", "weight": 3},
                    {"capacityProvider": "FARGATE", "weight": 1, "base": 1}]
        arns = [self.stuck_task(capacityProviderStrategy=strategy) for _ in range(5)]
        described = self.account.ecs.describe_tasks(cluster=self.account.fargate["cluster"], tasks=arns)["tasks"]
        providers = [next(t for t in described if t["taskArn"] == a)["capacityProviderName"] for a in arns]
        self.assertEqual(providers[0], "FARGATE", "the base first")
        self.assertEqual(providers[1:].count("FARGATE_SPOT"), 3, providers)
        for arn in arns:
            self.stop(arn)

    def test_ecs_limits_are_enforced(self):
        for extra, message in [({"startedBy": "x" * 37}, "startedBy"),
                               ({"overrides": {"containerOverrides": [{"name": "crawler", "environment": [
                                   {"name": "BIG", "value": "x" * 8200}]}]}}, "8192")]:
            before = len(self.rehearsal.tasks())
            with self.assertRaises(ClientError) as e:
                self.account.run_task("s3://x/a", "s3://x/b", **extra)
            self.assertEqual(e.exception.response["Error"]["Code"], "InvalidParameterException")
            self.assertIn(message, e.exception.response["Error"]["Message"])
            self.assertEqual(len(self.rehearsal.tasks()), before, "no task created")

    def test_list_tasks_defaults_to_running_and_pages(self):
        cluster = self.account.fargate["cluster"]
        arns = [self.stuck_task(startedBy="list-run") for _ in range(3)]
        self.stop(arns[0])
        running = self.account.ecs.list_tasks(cluster=cluster, startedBy="list-run")["taskArns"]
        self.assertEqual(sorted(running), sorted(arns[1:]), "desiredStatus RUNNING by default")
        # startedBy must be the only filter: the stopped one is listed by status alone.
        stopped = self.account.ecs.list_tasks(cluster=cluster, desiredStatus="STOPPED")
        self.assertIn(arns[0], stopped["taskArns"])
        self.assertFalse(set(arns[1:]) & set(stopped["taskArns"]))
        page = self.account.ecs.list_tasks(cluster=cluster, startedBy="list-run", maxResults=1)
        rest = self.account.ecs.list_tasks(cluster=cluster, startedBy="list-run", maxResults=1,
                                           nextToken=page["nextToken"])
        self.assertEqual(sorted(page["taskArns"] + rest["taskArns"]), sorted(arns[1:]))
        self.assertNotIn("nextToken", rest)
        for arn in arns[1:]:
            self.stop(arn)

    def test_describe_tasks_reports_unknown_tasks_missing(self):
        arn = self.stuck_task()
        unknown = arn.rsplit("/", 1)[0] + "/00000000000000000000000000000000"
        answer = self.account.ecs.describe_tasks(cluster=self.account.fargate["cluster"], tasks=[arn, unknown])
        self.assertEqual([t["taskArn"] for t in answer["tasks"]], [arn])
        self.assertEqual(answer["failures"], [{"arn": unknown, "reason": "MISSING"}])
        task = self.stop(arn)
        self.assertEqual(task["stopCode"], "UserInitiated")
        self.assertFalse([c for c in task["containers"] if "exitCode" in c], "no container ever ran")

    def test_auth_is_enforced(self):
        wrong = self.account.client("ecs", (self.account.setup["accessKeyId"], "not-the-secret"))
        with self.assertRaises(ClientError) as e:
            wrong.list_tasks(cluster=self.account.fargate["cluster"])
        self.assertEqual(e.exception.response["ResponseMetadata"]["HTTPStatusCode"], 403)
        with self.assertRaises(ClientError) as e:
            self.account.ecs.delete_cluster(cluster=self.account.fargate["cluster"])
        self.assertIn("not authorized", str(e.exception))


if __name__ == "__main__":
    unittest.main()
