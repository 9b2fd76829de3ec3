"""python3 -m rehearsal.prepare: a job made ready to run on a rehearsal.

  python3 -m rehearsal.prepare --endpoint URL [--crawlrun BIN] [--scheduled] JOB COPY

Writes COPY: the job with a `fargate` section naming the rehearsal's cluster, subnets, security
group, roles, log group, bucket and prefix (the job's own names are kept where it has them); sets
the rehearsal up for it with the policies `crawlrun iam-policy COPY --json` prints (coordinator, task
role, execution role); and prints
the shell lines that give the coordinator user's key to `crawlrun` (for `eval`). With --scheduled,
the copy's `fargate.schedule` names the rehearsal's coordinator and scheduler roles, which hold
what `crawlrun iam-policy COPY --scheduled --json` prints (schedules.py).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path


def control(endpoint: str, method: str, path: str, body: object | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{endpoint}/_rehearsal/{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        raise SystemExit(f"rehearsal: {method} /_rehearsal/{path}: {e.code} {e.read().decode(errors='replace')}")


def job_copy(job: dict, job_path: Path, account: str, region: str, placeholders: dict) -> dict:
    """The job as the rehearsal runs it. `urlsFile` becomes absolute (the copy lives elsewhere)."""
    copy = dict(job)
    if "urlsFile" in copy and not os.path.isabs(copy["urlsFile"]):
        copy["urlsFile"] = str((job_path.parent / copy["urlsFile"]).resolve())
    f = dict(job.get("fargate") or {})
    name = job.get("name", "job")

    def role(key: str, default: str) -> str:
        # The job's role name, in the rehearsal's account.
        current = f.get(key) or ""
        return f"arn:aws:iam::{account}:role/{current.rsplit('/', 1)[-1] or default}"

    f.update({
        "region": region, "cluster": f.get("cluster") or "crawlrun-rehearsal",
        "executionRoleArn": role("executionRoleArn", "crawlrun-execution"),
        "taskRoleArn": role("taskRoleArn", "crawlrun-task"),
        "logGroup": f.get("logGroup") or f"/crawlrun/{name}", "bucket": f.get("bucket") or "crawlrun-rehearsal",
        "prefix": f.get("prefix", "crawlrun/"), "assignPublicIp": True, **placeholders,
    })
    copy["fargate"] = f
    return copy


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m rehearsal.prepare", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoint", required=True, help="the rehearsal's URL (its ready line's endpoint)")
    p.add_argument("--crawlrun", default="crawlrun", help="the crawlrun binary")
    p.add_argument("--scheduled", action="store_true", help="also the roles of a scheduled run")
    p.add_argument("job", type=Path)
    p.add_argument("copy", type=Path)
    args = p.parse_args(argv)

    info = control(args.endpoint, "GET", "")
    job = json.loads(args.job.read_text())
    # Subnets and security groups are not in any policy: placeholders until the set-up names them.
    copy = job_copy(job, args.job, info["account"], info["region"],
                    {"subnets": ["subnet-00000000"], "securityGroups": ["sg-00000000"]})
    args.copy.write_text(json.dumps(copy, indent=2))
    printed = subprocess.run([args.crawlrun, "iam-policy", str(args.copy), "--json"], capture_output=True, text=True)
    if printed.returncode != 0:
        raise SystemExit(f"rehearsal: crawlrun iam-policy {args.copy} failed:\n{printed.stderr}")
    f = copy["fargate"]
    setup = control(args.endpoint, "POST", "setup", {
        "cluster": f["cluster"], "logGroup": f["logGroup"], "bucket": f["bucket"],
        "prefix": f["prefix"] + copy.get("name", ""), "policies": json.loads(printed.stdout),
        "executionRoleName": f["executionRoleArn"].rsplit("/", 1)[-1],
        "taskRoleName": f["taskRoleArn"].rsplit("/", 1)[-1]})
    f["subnets"], f["securityGroups"] = setup["subnets"], setup["securityGroups"]
    if args.scheduled:
        account = info["account"]
        f["schedule"] = {**(f.get("schedule") or {}),
                         "coordinatorRoleArn": f"arn:aws:iam::{account}:role/crawlrun-coordinator-task",
                         "schedulerRoleArn": f"arn:aws:iam::{account}:role/crawlrun-scheduler"}
        args.copy.write_text(json.dumps(copy, indent=2))
        printed = subprocess.run([args.crawlrun, "iam-policy", str(args.copy), "--scheduled", "--json"],
                                 capture_output=True, text=True)
        if printed.returncode != 0:
            raise SystemExit(f"rehearsal: crawlrun iam-policy {args.copy} --scheduled failed:\n{printed.stderr}")
        control(args.endpoint, "POST", "scheduled-setup", {
            "policies": json.loads(printed.stdout), "coordinatorRoleName": "crawlrun-coordinator-task",
            "schedulerRoleName": "crawlrun-scheduler"})
    args.copy.write_text(json.dumps(copy, indent=2))
    exports = {
        "AWS_ENDPOINT_URL": args.endpoint, "AWS_REGION": setup["region"], "AWS_ACCESS_KEY_ID": setup["accessKeyId"],
        "AWS_SECRET_ACCESS_KEY": setup["secretAccessKey"], "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name, value in exports.items():
        print(f"export {name}={shlex.quote(value)}")
    print("unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL_ECS AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_CLOUDWATCH_LOGS")
    print(f"rehearsal: {args.copy} set up: cluster {f['cluster']}, bucket {f['bucket']}, log group {f['logGroup']}, "
          f"subnets {', '.join(f['subnets'])}, key …{setup['accessKeyId'][-4:]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
