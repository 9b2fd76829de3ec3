"""The instant runner (`--runner instant`): tasks whose containers are played in process, for
benchmarks of the coordinator."""

from __future__ import annotations

import unittest

from .support import Account, RehearsalProcess, container


class InstantTests(unittest.TestCase):
    def test_a_task_records_every_url_at_once_with_no_process(self):
        rehearsal = RehearsalProcess("--runner", "instant")
        try:
            account = Account(rehearsal)
            urls = [f"http://127.0.0.1:9/page/{i}" for i in range(3)]
            batch, out = account.put_batch("instant", "b1", urls)
            arn = account.run_task(batch, out)["tasks"][0]["taskArn"]
            task, seen = account.watch(arn, timeout=30)
            self.assertEqual(seen[-1], "STOPPED")
            states = [s["status"] for s in rehearsal.tasks()[0]["states"]]
            self.assertEqual(states, ["PROVISIONING", "PENDING", "RUNNING", "DEACTIVATING", "STOPPING",
                                      "DEPROVISIONING", "STOPPED"])
            self.assertEqual(task["stopCode"], "EssentialContainerExited")
            self.assertEqual((container(task, "crawler")["exitCode"], container(task, "webdriver")["exitCode"]), (0, 143))
            self.assertEqual([r["url"] for r in account.results(out)], urls)
            self.assertTrue(all(r["ok"] for r in account.results(out)))
            self.assertIn("crawler: done 3/3", account.log_lines("crawler", arn)[-1])
            # As the crawler does: its log beside its results (`.log` for `.jsonl`).
            bucket, key = out[len("s3://"):].split("/", 1)
            uploaded = account.s3.get_object(Bucket=bucket, Key=key[: -len(".jsonl")] + ".log")["Body"].read()
            self.assertIn("crawler: done 3/3", uploaded.decode().splitlines()[-1])
            self.assertEqual(rehearsal.tasks()[0]["pids"], {}, "no process")
        finally:
            self.assertEqual(rehearsal.stop(), 0)


if __name__ == "__main__":
    unittest.main()
