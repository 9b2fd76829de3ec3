"""Figures of the rehearsal itself (what a coordinator benchmark pays for it):
  cd scripts/rehearsal && python3 -m tests.measure [TASKS]
start-up to the ready line, set-up, RunTask/DescribeTasks/StopTask latencies over TASKS tasks that
never start containers (stuckProvisioning), and one real task (chromedriver + crawler) end to end."""

from __future__ import annotations

import statistics
import sys
import time

from .support import Account, RehearsalProcess, Site


def timed(f):
    start = time.perf_counter()
    value = f()
    return value, (time.perf_counter() - start) * 1000


def summary(name: str, ms: list[float]) -> None:
    ms = sorted(ms)
    print(f"{name:<28} n={len(ms):<5} median {statistics.median(ms):7.1f} ms   p95 {ms[int(len(ms) * 0.95) - 1]:7.1f} ms")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    # Latency alone: Fargate's launch rate (20 RunTask a second) is off here.
    rehearsal, ready_ms = timed(lambda: RehearsalProcess("--launch-rate", "0"))
    site = Site()
    try:
        print(f"{'start-up to ready line':<28} {ready_ms:7.0f} ms")
        account, setup_ms = timed(lambda: Account(rehearsal))
        print(f"{'set-up + register (IAM on)':<28} {setup_ms:7.0f} ms")
        cluster = account.fargate["cluster"]
        rehearsal.fault("stuckProvisioning", count=n)
        runs = [timed(lambda: account.run_task("s3://x/a", "s3://x/b")) for _ in range(n)]
        arns = [r["tasks"][0]["taskArn"] for r, _ in runs]
        summary("RunTask", [ms for _, ms in runs])
        describes = [timed(lambda: account.ecs.describe_tasks(cluster=cluster, tasks=arns[i:i + 100]))[1]
                     for _ in range(5) for i in range(0, n, 100)]
        summary("DescribeTasks (100 tasks)", describes)
        summary("StopTask", [timed(lambda: account.ecs.stop_task(cluster=cluster, task=a))[1] for a in arns])
        batch, out = account.put_batch("measure", "b1", [site.base + "/page/1"])
        arn = account.run_task(batch, out)["tasks"][0]["taskArn"]
        (task, _), e2e_ms = timed(lambda: account.watch(arn))
        print(f"{'one real task, 1 URL':<28} {e2e_ms:7.0f} ms (RunTask to STOPPED seen; crawler exit "
              f"{next(c for c in task['containers'] if c['name'] == 'crawler').get('exitCode')})")
    finally:
        site.stop()
        rehearsal.stop()


if __name__ == "__main__":
    main()
