"""Rules of the real AWS APIs that stock moto does not follow, as the rehearsal answers them
(issue 19). Each names the reference it follows."""

from __future__ import annotations

import copy
import time
from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import ClientError

from .support import RehearsalCase, container


class AWSRulesTests(RehearsalCase):
    @property
    def cluster(self) -> str:
        return self.account.fargate["cluster"]

    def definition(self, start_timeout: int | None) -> str:
        """The job's task definition with the sidecar's startTimeout set (or removed)."""
        d = copy.deepcopy(self.account.definition)
        sidecar = next(c for c in d["containerDefinitions"] if c["name"] == "webdriver")
        sidecar.pop("startTimeout", None)
        if start_timeout is not None:
            sidecar["startTimeout"] = start_timeout
        return self.account.ecs.register_task_definition(**d)["taskDefinition"]["taskDefinitionArn"]

    def test_list_tasks_takes_started_by_alone(self):
        # https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListTasks.html
        for other in ({"desiredStatus": "STOPPED"}, {"desiredStatus": "RUNNING"}, {"family": "crawlrun-example"}):
            with self.subTest(other=other), self.assertRaises(ClientError) as e:
                self.account.ecs.list_tasks(cluster=self.cluster, startedBy="rehearsal-test", **other)
            self.assertEqual(e.exception.response["Error"]["Code"], "InvalidParameterException")
        self.assertIsInstance(self.account.ecs.list_tasks(cluster=self.cluster, startedBy="x")["taskArns"], list)
        self.assertIsInstance(self.account.ecs.list_tasks(cluster=self.cluster, desiredStatus="STOPPED")["taskArns"],
                              list)

    def test_list_tasks_denied_fault(self):
        self.rehearsal.fault("listTasksDenied")
        with self.assertRaises(ClientError) as e:
            self.account.ecs.list_tasks(cluster=self.cluster, startedBy="x")
        self.assertEqual(e.exception.response["Error"]["Code"], "AccessDeniedException")
        self.account.ecs.list_tasks(cluster=self.cluster, startedBy="x")  # once

    def test_never_healthy_sidecar_with_a_start_timeout_stops_the_task(self):
        self.rehearsal.fault("sidecarNeverHealthy")
        started = time.monotonic()
        arn = self.account.run_task("s3://x/a", "s3://x/b", taskDefinition=self.definition(2))["tasks"][0]["taskArn"]
        task, seen = self.account.watch(arn, timeout=30)
        self.assertLess(time.monotonic() - started, 15)
        self.assertNotIn("RUNNING", seen, "the task never ran: PENDING until the timeout")
        self.assertEqual((task["stopCode"], task["stoppedReason"]),
                         ("EssentialContainerExited", "Essential container in task exited"))
        crawler = container(task, "crawler")
        self.assertEqual(crawler["exitCode"], 143)
        self.assertTrue(crawler["reason"].startswith("CannotStartContainerError: dependency graph: container "
                                                     "ordering dependency [webdriver("), crawler["reason"])
        self.assertTrue(crawler["reason"].endswith("has timed out."), crawler["reason"])

    def test_never_healthy_sidecar_without_a_start_timeout_stays_pending(self):
        # aws/containers-roadmap#2379: ECS waits for the dependency for ever.
        self.rehearsal.fault("sidecarNeverHealthy")
        arn = self.account.run_task("s3://x/a", "s3://x/b", taskDefinition=self.definition(None))["tasks"][0]["taskArn"]
        describe = lambda: self.account.ecs.describe_tasks(cluster=self.cluster, tasks=[arn])["tasks"][0]  # noqa: E731
        deadline = time.monotonic() + 5
        while describe()["lastStatus"] == "PROVISIONING" and time.monotonic() < deadline:
            time.sleep(0.05)
        deadline = time.monotonic() + 4  # longer than the 2 s the other test's timeout takes
        while time.monotonic() < deadline:
            task = self.account.ecs.describe_tasks(cluster=self.cluster, tasks=[arn])["tasks"][0]
            self.assertEqual(task["lastStatus"], "PENDING")
            time.sleep(0.2)
        self.account.ecs.stop_task(cluster=self.cluster, task=arn, reason="test over")
        task, _ = self.account.watch(arn)
        self.assertEqual(task["stopCode"], "UserInitiated")

    def logged_to(self, group: str, create_group: bool) -> str:
        d = copy.deepcopy(self.account.definition)
        for c in d["containerDefinitions"]:
            c["logConfiguration"]["options"]["awslogs-group"] = group
            if create_group:
                c["logConfiguration"]["options"]["awslogs-create-group"] = "true"
        return self.account.ecs.register_task_definition(**d)["taskDefinition"]["taskDefinitionArn"]

    def test_awslogs_create_group_needs_the_execution_role_to_create_it(self):
        # The execution role holds what `crawlrun iam-policy` prints: no logs:CreateLogGroup.
        arn = self.account.run_task("s3://x/a", "s3://x/b",
                                    taskDefinition=self.logged_to("/no/such/group", True))["tasks"][0]["taskArn"]
        task, seen = self.account.watch(arn)
        self.assertEqual(task["stopCode"], "TaskFailedToStart")
        self.assertTrue(task["stoppedReason"].startswith("ResourceInitializationError: failed to validate logger args"))
        self.assertIn("AccessDeniedException", task["stoppedReason"])
        self.assertIn("logs:CreateLogGroup", task["stoppedReason"])
        self.assertNotIn("RUNNING", seen)

    def test_a_missing_log_group_without_create_group(self):
        arn = self.account.run_task("s3://x/a", "s3://x/b",
                                    taskDefinition=self.logged_to("/no/such/group", False))["tasks"][0]["taskArn"]
        task, _ = self.account.watch(arn)
        self.assertEqual(task["stopCode"], "TaskFailedToStart")
        self.assertIn("ResourceNotFoundException: The specified log group does not exist.", task["stoppedReason"])

    def test_the_job_definition_sets_no_create_group(self):
        for c in self.account.definition["containerDefinitions"]:
            self.assertNotIn("awslogs-create-group", c["logConfiguration"]["options"])

    def test_a_missing_key_is_403_without_list_bucket(self):
        # https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html (Permissions): the
        # coordinator's ListBucket is conditioned on s3:prefix, which a GetObject does not carry.
        bucket = self.account.fargate["bucket"]
        missing = f"{self.account.prefix}run/results/none.jsonl"
        for call in (lambda: self.account.s3.get_object(Bucket=bucket, Key=missing),
                     lambda: self.account.s3.head_object(Bucket=bucket, Key=missing)):
            with self.assertRaises(ClientError) as e:
                call()
            self.assertEqual(e.exception.response["ResponseMetadata"]["HTTPStatusCode"], 403)
        # What the policy allows tells them apart: a listing of the key's own prefix.
        listed = self.account.s3.list_objects_v2(Bucket=bucket, Prefix=missing)
        self.assertEqual(listed.get("KeyCount"), 0)
        present = f"{self.account.prefix}run/results/some.jsonl"
        self.account.s3.put_object(Bucket=bucket, Key=present, Body=b"{}\n")
        self.assertEqual(self.account.s3.get_object(Bucket=bucket, Key=present)["Body"].read(), b"{}\n")

    def test_a_replayed_token_replays_a_capacity_failure(self):
        # RunTask's clientToken: the same token and parameters get the same answer.
        self.rehearsal.fault("runTaskCapacity")
        first = self.account.run_task("s3://x/a", "s3://x/b", clientToken="cap-1")
        self.assertEqual(first["tasks"], [])
        again = self.account.run_task("s3://x/a", "s3://x/b", clientToken="cap-1")
        self.assertEqual((again["tasks"], again["failures"]), ([], first["failures"]))
        with self.assertRaises(ClientError) as e:
            self.account.run_task("s3://x/other", "s3://x/b", clientToken="cap-1")
        self.assertEqual(e.exception.response["Error"]["Code"], "ConflictException")
        self.rehearsal.fault("stuckProvisioning")
        fresh = self.account.run_task("s3://x/a", "s3://x/b", clientToken="cap-1-r1")["tasks"][0]["taskArn"]
        self.account.ecs.stop_task(cluster=self.cluster, task=fresh)
        self.account.watch(fresh)

    def test_fargate_run_task_rate(self):
        # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/throttling.html: RunTask on
        # Fargate, 20 calls a second, burst and sustained. Refused calls here start nothing.
        def call(_) -> str:
            try:
                self.account.run_task("s3://x/a", "s3://x/b", taskDefinition="no-such-definition")
                return "ok"
            except ClientError as e:
                return e.response["Error"]["Code"]

        # The rate lowered to 2 a second, so that a loaded machine's slow calls still burst past it.
        self.rehearsal.control("POST", "launch-rate", {"rate": 2})
        try:
            with ThreadPoolExecutor(20) as pool:
                codes = list(pool.map(call, range(20)))
        finally:
            self.rehearsal.control("POST", "launch-rate", {"rate": 20})
        self.assertGreaterEqual(codes.count("ThrottlingException"), 5, codes)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # the bucket refills: calls pass again
            try:
                self.account.run_task("s3://x/a", "s3://x/b", taskDefinition="no-such-definition")
            except ClientError as e:
                if e.response["Error"]["Code"] != "ThrottlingException":
                    break
            time.sleep(0.05)
        else:
            self.fail("RunTask still throttled 5 s later")

    def test_eventually_consistent_describe_tasks(self):
        self.rehearsal.fault("eventuallyConsistent", seconds=1.5)
        self.rehearsal.fault("stuckProvisioning")
        arn = self.account.run_task("s3://x/a", "s3://x/b")["tasks"][0]["taskArn"]
        answer = self.account.ecs.describe_tasks(cluster=self.cluster, tasks=[arn])
        self.assertEqual((answer["tasks"], answer["failures"]), ([], [{"arn": arn, "reason": "MISSING"}]))
        deadline = time.monotonic() + 10
        while not self.account.ecs.describe_tasks(cluster=self.cluster, tasks=[arn])["tasks"]:
            self.assertLess(time.monotonic(), deadline, "never visible")
            time.sleep(0.1)
        self.account.ecs.stop_task(cluster=self.cluster, task=arn)
        self.account.watch(arn)


if __name__ == "__main__":
    import unittest
    unittest.main()
