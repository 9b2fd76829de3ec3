"""What the rehearsal's tests share: the rehearsal as a child process, a loopback site to crawl,
the job's set-up as `crawlrun` prints it, and boto3 clients that never retry on their own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
from botocore.config import Config

HERE = Path(__file__).resolve().parent
PACKAGE = HERE.parent  # scripts/rehearsal
REPO = PACKAGE.parents[1]
NO_RETRIES = Config(retries={"total_max_attempts": 1}, s3={"addressing_style": "path"})


def binary(name: str) -> str:
    bindir = os.environ.get("CRAWLRUN_BIN_DIR")
    if bindir:
        return str(Path(bindir) / name)
    for config in ("debug", "release"):
        path = REPO / ".build" / config / name
        if path.is_file():
            return str(path)
    raise RuntimeError(f"{name} is not built: run swift build first")


def crawlrun(*args: str) -> dict:
    out = subprocess.run([binary("crawlrun"), *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


class RehearsalProcess:
    """`python3 -m rehearsal` on a free loopback port; stopped (and checked gone) by stop()."""

    def __init__(self, *extra: str, via_parent: bool = False):
        """`via_parent`: started by an intermediate process (self.process), which a test can kill
        to see the rehearsal follow its parent."""
        env = {**os.environ, "PYTHONPATH": str(PACKAGE)}
        argv = [sys.executable, "-m", "rehearsal", "--crawler", binary("crawler"), *extra]
        if via_parent:
            argv = [sys.executable, "-c", "import subprocess, sys; subprocess.run(sys.argv[1:])", *argv]
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        self.stderr: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(5)
            raise RuntimeError("the rehearsal exited before it was ready:\n" + "".join(self.stderr))
        ready = json.loads(line)
        self.endpoint = ready["endpoint"]
        self.pid = ready["pid"]

    def _drain(self) -> None:
        for line in self.process.stderr:
            self.stderr.append(line)

    def control(self, method: str, path: str, body: object | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.endpoint + "/_rehearsal/" + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as r:
            return json.load(r)

    def fault(self, name: str, count: int = 1, **params) -> None:
        self.control("POST", "faults", {"fault": name, "count": count, **params})

    def tasks(self) -> list[dict]:
        return self.control("GET", "tasks")["tasks"]

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(30)
        self.close()
        return code

    def close(self) -> None:
        for stream in (self.process.stdout, self.process.stderr):
            if stream:
                stream.close()


class Site:
    """Pages on 127.0.0.1: /page/N (an h1), /slow/N (answers after N ms), anything else 404."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                parts = self.path.strip("/").split("/")
                if parts[0] == "slow" and len(parts) == 2:
                    time.sleep(int(parts[1]) / 1000)
                if parts[0] in ("page", "slow") and len(parts) == 2:
                    body = f"<html><head><title>{parts[0]} {parts[1]}</title></head><body><h1>{parts[0]} {parts[1]}</h1></body></html>"
                    self._answer(200, body)
                else:
                    self._answer(404, "<html><body><h1>not found</h1></body></html>")

            def _answer(self, status, body):
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a browser stopped mid-page (StopTask, SIGKILL): expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Account:
    """The example job set up on a rehearsal: its cluster, log group, bucket, roles, and a
    coordinator user holding the policy `crawlrun iam-policy` prints; auth enforced."""

    JOB = REPO / "jobs" / "fargate-example.json"

    def __init__(self, rehearsal: RehearsalProcess):
        self.rehearsal = rehearsal
        job = json.loads(self.JOB.read_text())
        self.fargate = job["fargate"]
        self.prefix = f"{self.fargate['prefix']}{job['name']}/"
        policies = crawlrun("iam-policy", str(self.JOB), "--json")
        self.setup = rehearsal.control("POST", "setup", {
            "cluster": self.fargate["cluster"], "logGroup": self.fargate["logGroup"],
            "bucket": self.fargate["bucket"], "prefix": self.prefix, "policies": policies})
        self.definition = crawlrun("plan", str(self.JOB), "--backend", "fargate", "--json")["taskDefinition"]
        self.ecs = self.client("ecs")
        self.s3 = self.client("s3")
        self.logs = self.client("logs")
        self.task_definition = self.ecs.register_task_definition(**self.definition)["taskDefinition"]["taskDefinitionArn"]

    def client(self, service: str, key: tuple[str, str] | None = None):
        key_id, secret = key or (self.setup["accessKeyId"], self.setup["secretAccessKey"])
        return boto3.client(service, region_name=self.setup["region"], endpoint_url=self.rehearsal.endpoint,
                            aws_access_key_id=key_id, aws_secret_access_key=secret, config=NO_RETRIES)

    def put_batch(self, run: str, batch: str, urls: list[str], crawl: dict | None = None) -> tuple[str, str]:
        """Uploads a batch; its s3:// location and where its results go."""
        key = f"{self.prefix}{run}/batches/{batch}.json"
        body = {"batch": batch, "urls": urls, "crawl": {"allowPrivateNetworks": True, "fields": {"heading": "h1"},
                                                          **(crawl or {})}}
        self.s3.put_object(Bucket=self.fargate["bucket"], Key=key, Body=json.dumps(body).encode())
        out = f"{self.prefix}{run}/results/{batch}.jsonl"
        return f"s3://{self.fargate['bucket']}/{key}", f"s3://{self.fargate['bucket']}/{out}"

    def run_task(self, batch: str, out: str, **extra) -> dict:
        request = {
            "cluster": self.fargate["cluster"], "taskDefinition": self.task_definition, "launchType": "FARGATE",
            "startedBy": "rehearsal-test",
            "networkConfiguration": {"awsvpcConfiguration": {
                "subnets": self.setup["subnets"], "securityGroups": self.setup["securityGroups"],
                "assignPublicIp": "ENABLED"}},
            "overrides": {"containerOverrides": [{"name": "crawler", "environment": [
                {"name": "CRAWL_BATCH", "value": batch}, {"name": "CRAWL_OUT", "value": out}]}]},
        }
        request.update(extra)
        if "capacityProviderStrategy" in extra:
            del request["launchType"]
        return self.ecs.run_task(**request)

    def watch(self, arn: str, timeout: float = 120) -> tuple[dict, list[str]]:
        """Polls DescribeTasks until the task is STOPPED: the last answer and every lastStatus seen."""
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            task = self.ecs.describe_tasks(cluster=self.fargate["cluster"], tasks=[arn])["tasks"][0]
            if not seen or seen[-1] != task["lastStatus"]:
                seen.append(task["lastStatus"])
            if task["lastStatus"] == "STOPPED":
                return task, seen
            time.sleep(0.05)
        raise AssertionError(f"task {arn} not STOPPED after {timeout} s; seen {seen}")

    def results(self, out: str) -> list[dict]:
        bucket, key = out[len("s3://"):].split("/", 1)
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        return [json.loads(line) for line in body.splitlines() if line]

    def log_lines(self, container: str, task_arn: str) -> list[str]:
        stream = f"crawlrun/{container}/{task_arn.rsplit('/', 1)[-1]}"
        events = self.logs.get_log_events(logGroupName=self.fargate["logGroup"], logStreamName=stream,
                                          startFromHead=True)["events"]
        return [e["message"] for e in events]


def container(task: dict, name: str) -> dict:
    return next(c for c in task["containers"] if c["name"] == name)


def group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
        return True
    except ProcessLookupError:
        return False


class RehearsalCase(unittest.TestCase):
    """One rehearsal, set up for the example job, and one site for a class of tests; no fault
    carried from one test to the next; no task process left once the rehearsal has stopped."""

    @classmethod
    def setUpClass(cls):
        cls.rehearsal = RehearsalProcess()
        cls.site = Site()
        cls.account = Account(cls.rehearsal)

    @classmethod
    def tearDownClass(cls):
        pids = [pid for t in cls.rehearsal.tasks() for pid in t["pids"].values()]
        cls.site.stop()
        assert cls.rehearsal.stop() == 0
        assert not [pid for pid in pids if group_alive(pid)], "a task process outlived the rehearsal"

    def setUp(self):
        self.rehearsal.control("DELETE", "faults")

    def inspected(self, arn: str) -> dict:
        return next(t for t in self.rehearsal.tasks() if t["taskArn"] == arn)
