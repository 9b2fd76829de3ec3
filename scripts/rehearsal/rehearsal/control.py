"""The control API under /_rehearsal/ (unsigned; moto uses no such path): set-up, auth, faults,
inspection, and the tasks' container-credential endpoint.

  GET    /_rehearsal/                 endpoint, pid, region, account, whether auth is enforced
  POST   /_rehearsal/setup            {cluster, logGroup, bucket, prefix,
                                       policies: {coordinator, taskRole, executionRole},
                                       executionRoleName?, taskRoleName?, userName?, enforceAuth? (true),
                                       capacityProviders? (["FARGATE", "FARGATE_SPOT"]), bucketRegion?}
  POST   /_rehearsal/auth             {"enforce": true|false}
  POST   /_rehearsal/launch-rate      {"rate": N}: Fargate's RunTask rate (calls a second; 0: off)
  GET    /_rehearsal/faults           armed faults and their remaining counts
  POST   /_rehearsal/faults           {"fault": NAME, "count": N, …} (or {"faults": [ … ]})
  DELETE /_rehearsal/faults           disarms every fault
  GET    /_rehearsal/tasks            every task RunTask created: arn, startedBy, tags, clientToken, states…
  GET    /_rehearsal/calls            API calls counted per "service:Action"; DELETE resets them
  GET    /_rehearsal/credentials/ID   a task's role credentials (Authorization: the task's token)
"""

from __future__ import annotations

import json
import os

import boto3
from botocore.config import Config

from .auth import auth_enforced, enforce_auth, moto_evaluable
from .core import Rehearsal
from .faults import FaultError

TRUST_ECS_TASKS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
}
class ControlError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Control:
    def __init__(self, rehearsal: Rehearsal):
        self.r = rehearsal

    def handle(self, method: str, path: str, headers: dict, body: bytes) -> tuple[int, object]:
        parts = [p for p in path.split("/") if p][1:]  # after "_rehearsal"
        route = (method, parts[0] if parts else "")
        data = json.loads(body or b"{}") if method == "POST" else {}
        if route == ("GET", ""):
            return 200, {"endpoint": self.r.endpoint, "pid": os.getpid(), "region": self.r.options.region,
                         "account": self.r.account, "authEnforced": auth_enforced()}
        if route == ("POST", "setup"):
            return 200, self.setup(data)
        if route == ("GET", "events"):
            from . import schedules

            return 200, {"events": schedules.delivered_events(self.r)}
        if route in (("POST", "scheduled-setup"), ("POST", "fire")):
            from . import schedules  # scheduled runs: schedules.py

            try:
                return 200, (schedules.setup(self, data) if parts[0] == "scheduled-setup" else schedules.fire(self.r, data))
            except schedules.ScheduleError as e:
                raise ControlError(e.status, str(e))
        if route == ("POST", "launch-rate"):
            self.r.set_launch_rate(float(data.get("rate", self.r.options.launch_rate)))
            return 200, {"rate": data.get("rate")}
        if route == ("POST", "auth"):
            enforce_auth(bool(data.get("enforce", True)))
            return 200, {"authEnforced": auth_enforced()}
        if parts[:1] == ["faults"]:
            return self.faults(method, data)
        if route == ("GET", "tasks"):
            return 200, {"tasks": self.r.describe_tasks()}
        if route == ("GET", "calls"):
            with self.r.lock:
                return 200, {"calls": dict(self.r.calls)}
        if route == ("DELETE", "calls"):
            with self.r.lock:
                self.r.calls.clear()
            return 200, {"calls": {}}
        if method == "GET" and len(parts) == 2 and parts[0] == "credentials":
            with self.r.lock:
                self.r.calls["rehearsal:ContainerCredentials"] += 1
            body = self.r.task_credentials(parts[1], headers.get("authorization"))
            if body is None:
                raise ControlError(403, "unknown task or wrong authorization token")
            return 200, body
        raise ControlError(404, f"no control route {method} {path}")

    def faults(self, method: str, data: dict) -> tuple[int, object]:
        if method == "DELETE":
            self.r.faults.clear()
        elif method == "POST":
            try:
                for spec in data.get("faults", [data]):
                    self.r.faults.arm(spec)
            except FaultError as e:
                raise ControlError(400, str(e))
        return 200, {"armed": self.r.faults.armed()}

    def setup(self, data: dict) -> dict:
        missing = [k for k in ("cluster", "logGroup", "bucket") if not data.get(k)]
        policies = data.get("policies") or {}
        missing += [f"policies.{k}" for k in ("coordinator", "taskRole", "executionRole") if k not in policies]
        if missing:
            raise ControlError(400, f"set-up needs {', '.join(missing)}")
        region = data.get("region") or self.r.options.region
        enforce_auth(False)  # the set-up's own calls go unchecked, then checking starts
        aws = self._clients(region)
        ec2, iam = aws("ec2"), aws("iam")
        vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        subnets = sorted(ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"],
                         key=lambda s: s["AvailabilityZone"])
        groups = ec2.describe_security_groups(Filters=[
            {"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["crawlrun-rehearsal"]}])
        group = (groups["SecurityGroups"][0]["GroupId"] if groups["SecurityGroups"] else ec2.create_security_group(
            GroupName="crawlrun-rehearsal", Description="crawlrun rehearsal tasks", VpcId=vpc)["GroupId"])
        self._route_to_internet(ec2, vpc)
        # FARGATE and FARGATE_SPOT associated, as the README's set-up (and its template) does;
        # `capacityProviders: []` in the set-up leaves the cluster without them.
        providers = data.get("capacityProviders", ["FARGATE", "FARGATE_SPOT"])
        cluster = aws("ecs").create_cluster(clusterName=data["cluster"], capacityProviders=providers)["cluster"][
            "clusterArn"]
        if providers:
            aws("ecs").put_cluster_capacity_providers(
                cluster=data["cluster"], capacityProviders=providers,
                defaultCapacityProviderStrategy=[{"capacityProvider": providers[0], "weight": 1}])
        logs = aws("logs")
        if not logs.describe_log_groups(logGroupNamePrefix=data["logGroup"])["logGroups"]:
            logs.create_log_group(logGroupName=data["logGroup"])
        s3 = aws("s3")
        if data["bucket"] not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
            # `bucketRegion`: a bucket in another region than the job's (S3's wrong-region answers).
            bucket_region = data.get("bucketRegion") or region
            if bucket_region != region:
                s3 = self._clients(bucket_region)("s3")
            extra = ({} if bucket_region == "us-east-1"
                     else {"CreateBucketConfiguration": {"LocationConstraint": bucket_region}})
            s3.create_bucket(Bucket=data["bucket"], **extra)
        execution_name = data.get("executionRoleName", "crawlrun-execution")
        execution = self._role(iam, execution_name)
        # The execution role holds exactly what `crawlrun iam-policy` prints for it (the agent
        # checks it where ECS would: awslogs-create-group needs logs:CreateLogGroup).
        iam.put_role_policy(RoleName=execution_name, PolicyName="ecs-task-execution",
                            PolicyDocument=json.dumps(policies["executionRole"]))
        task_name = data.get("taskRoleName", "crawlrun-task")
        task_role = self._role(iam, task_name)
        iam.attach_role_policy(RoleName=task_name, PolicyArn=self._policy(
            iam, task_name + "-policy", moto_evaluable(policies["taskRole"])))
        user = data.get("userName", "crawlrun-coordinator")
        if not any(u["UserName"] == user for u in iam.list_users()["Users"]):
            iam.create_user(UserName=user)
        iam.attach_user_policy(UserName=user, PolicyArn=self._policy(
            iam, user + "-policy", moto_evaluable(policies["coordinator"])))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        if data.get("enforceAuth", True):
            enforce_auth(True)
        return {
            "endpoint": self.r.endpoint, "region": region, "account": self.r.account,
            "accessKeyId": key["AccessKeyId"], "secretAccessKey": key["SecretAccessKey"],
            "subnets": [s["SubnetId"] for s in subnets[:2]], "securityGroups": [group],
            "executionRoleArn": execution, "taskRoleArn": task_role, "cluster": data["cluster"],
            "clusterArn": cluster, "logGroup": data["logGroup"], "bucket": data["bucket"],
            "prefix": data.get("prefix", ""), "authEnforced": auth_enforced(),
        }

    @staticmethod
    def _route_to_internet(ec2, vpc: str) -> None:
        """An AWS default VPC has an internet gateway and a route 0.0.0.0/0 to it in its main
        route table; moto's has neither, so `crawlrun doctor`'s subnet check would fail here."""
        tables = ec2.describe_route_tables(Filters=[
            {"Name": "vpc-id", "Values": [vpc]}, {"Name": "association.main", "Values": ["true"]}])["RouteTables"]
        if not tables or any(r.get("DestinationCidrBlock") == "0.0.0.0/0" for r in tables[0]["Routes"]):
            return
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        ec2.create_route(RouteTableId=tables[0]["RouteTableId"], DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)

    @staticmethod
    def _role(iam, name: str) -> str:
        """A role ECS tasks may assume (kept when a second set-up names it again)."""
        try:
            return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_ECS_TASKS))["Role"]["Arn"]
        except iam.exceptions.EntityAlreadyExistsException:
            return iam.get_role(RoleName=name)["Role"]["Arn"]

    def _policy(self, iam, name: str, document: dict) -> str:
        """A customer managed policy holding `document` (a new default version when it exists)."""
        try:
            return iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(document))["Policy"]["Arn"]
        except iam.exceptions.EntityAlreadyExistsException:
            arn = f"arn:aws:iam::{self.r.account}:policy/{name}"
            for version in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
                if not version["IsDefaultVersion"]:
                    iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
            iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(document), SetAsDefault=True)
            return arn

    def _clients(self, region: str):
        config = Config(retries={"total_max_attempts": 1}, s3={"addressing_style": "path"})

        def client(service: str):
            return boto3.client(service, region_name=region, endpoint_url=self.r.endpoint, config=config,
                                aws_access_key_id="AKIASETUPSETUPSETUP0", aws_secret_access_key="setup")

        return client
