"""moto in process behind a WSGI layer: the control API, request faults, call counts, one lock.

The layer never rewrites a request body, so SigV4 signatures still verify. Faults answer before
moto sees the call, except the lost RunTask response, which lets moto (and the agent) create the
task and then drops the answer.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import sys
from urllib.parse import parse_qs

from moto.moto_api import state_manager
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from . import ecs_hooks
from .control import Control, ControlError
from .core import Rehearsal
from .roles import key_allows_unconditionally

CAPACITY_REASON = ecs_hooks.CAPACITY_REASON


def json_answer(start_response, status: int, value: object, content_type: str = "application/json"):
    body = json.dumps(value, default=str).encode()
    reason = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 500: "Internal Server Error"}
    start_response(f"{status} {reason.get(status, 'Error')}",
                   [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def aws_error(start_response, status: int, code: str, message: str):
    """A JSON 1.1 protocol error, as ECS answers it."""
    return json_answer(start_response, status, {"__type": code, "message": message}, "application/x-amz-json-1.1")


class App:
    def __init__(self, rehearsal: Rehearsal):
        self.r = rehearsal
        # Fargate's own limits on launches, per account and Region: RunTask calls 20 a second
        # (burst and sustained), tasks launched 100 at once then 20 a second (On-Demand and
        # Spot each). https://docs.aws.amazon.com/AmazonECS/latest/developerguide/throttling.html
        rehearsal.set_launch_rate(rehearsal.options.launch_rate)
        self.control = Control(rehearsal)
        self.moto = DomainDispatcherApplication(create_backend_app)
        # Only the agent moves a task's state: moto must not advance it on DescribeTasks.
        state_manager.set_transition("ecs::task", {"progression": "manual", "times": 10**12})

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/_rehearsal" or path.startswith("/_rehearsal/"):
            return self._control(environ, start_response, path)
        service, action = self._classify(environ)
        with self.r.lock:
            self.r.calls[f"{service}:{action}"] += 1
        if service == "ecs" and action == "RunTask":
            if self.r.faults.take("runTaskThrottling") is not None:
                return aws_error(start_response, 400, "ThrottlingException", "Rate exceeded")
            count = self._body(environ).get("count", 1)
            calls, launches = self.r.launch_buckets
            if not calls.take() or not launches.take(count if isinstance(count, int) else 1):
                return aws_error(start_response, 400, "ThrottlingException", "Rate exceeded")
            if self.r.faults.take("runTaskCapacity") is not None:
                # ECS remembers the token with its answer: the same token and parameters replay
                # this failure (ecs_hooks.run_task); a fresh token is a new request.
                body = self._body(environ)
                if body.get("clientToken"):
                    with self.r.lock:
                        self.r.failed_tokens[(body.get("cluster", "default"), body["clientToken"])] = \
                            ecs_hooks.fingerprint(body)
                return json_answer(start_response, 200, {"tasks": [], "failures": [{"reason": CAPACITY_REASON}]},
                                   "application/x-amz-json-1.1")
            lost = self.r.faults.take("runTaskLostResponse")
            if lost is not None:
                status, _, _ = self._moto(environ)
                if lost.get("mode") == "close" and status.startswith("200"):
                    self._close(environ)
                return aws_error(start_response, 500, "ServerException", "Service Unavailable. Please try again later.")
        if service == "ecs" and action == "ListTasks" and self.r.faults.take("listTasksDenied") is not None:
            return aws_error(start_response, 400, "AccessDeniedException",
                             "User is not authorized to perform: ecs:ListTasks (rehearsal fault listTasksDenied)")
        if service == "s3":
            wrong = self._wrong_region(environ)
            if wrong:
                return self._s3_wrong_region(start_response, action == "HEAD", *wrong)
        if service == "s3" and action in ("GET", "HEAD"):
            denied = self._missing_key_unlisted(environ)
            if denied:
                return self._s3_access_denied(start_response, action == "HEAD")
        if service == "ecs" and action == "DescribeTasks" and self.r.faults.take("describeTasksServerError") is not None:
            return aws_error(start_response, 500, "ServerException", "Service Unavailable. Please try again later.")
        status, headers, body = self._moto(environ)
        start_response(status, headers)
        return [body]

    def _moto(self, environ) -> tuple[str, list, bytes]:
        captured: dict = {}
        chunks: list[bytes] = []

        def start(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return chunks.append

        with self.r.lock:
            result = self.moto(environ, start)
            try:
                chunks.extend(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        return captured["status"], captured["headers"], b"".join(chunks)

    def _missing_key_unlisted(self, environ) -> bool:
        """S3 answers GetObject/HeadObject of a missing key with 404 only when the caller may
        s3:ListBucket the bucket; otherwise 403 AccessDenied (moto always answers 404). A
        ListBucket statement conditioned on s3:prefix does not count: a GetObject has no prefix.
        https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html (Permissions)"""
        from .auth import auth_enforced
        if not auth_enforced() or environ.get("QUERY_STRING"):
            return False
        parts = environ.get("PATH_INFO", "").lstrip("/").split("/", 1)
        if len(parts) != 2 or not parts[1]:
            return False
        bucket, key = parts[0], parts[1]
        auth = environ.get("HTTP_AUTHORIZATION", "")
        if "Credential=" not in auth:
            return False
        access_key = auth.split("Credential=", 1)[1].split("/")[0]
        from moto.s3.models import s3_backends
        from urllib.parse import unquote
        with self.r.lock:
            try:
                found = s3_backends[self.r.account]["aws"].get_bucket(bucket)
            except Exception:
                return False
            if unquote(key) in found.keys:
                return False
            allowed = key_allows_unconditionally(self.r.account, access_key, "s3:ListBucket", f"arn:aws:s3:::{bucket}")
        return allowed is False

    def _wrong_region(self, environ) -> tuple[str, str] | None:
        """(signed region, the bucket's region) when a request for an existing bucket is signed
        for another region than the bucket's (moto serves every region at once; S3 does not)."""
        auth = environ.get("HTTP_AUTHORIZATION", "")
        if "Credential=" not in auth:
            return None
        scope = auth.split("Credential=", 1)[1].split(",")[0].split("/")
        bucket = environ.get("PATH_INFO", "").lstrip("/").split("/", 1)[0]
        if len(scope) < 3 or not bucket:
            return None
        from moto.s3.models import s3_backends
        with self.r.lock:
            found = s3_backends[self.r.account]["aws"].buckets.get(bucket)
        if found is None or found.region_name == scope[2]:
            return None
        return scope[2], found.region_name

    @staticmethod
    def _s3_wrong_region(start_response, head: bool, signed: str, region: str):
        """S3's wrong-region answers: HEAD 301 with x-amz-bucket-region; others 400
        AuthorizationHeaderMalformed naming the region.
        https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html"""
        if head:
            start_response("301 Moved Permanently", [("x-amz-bucket-region", region), ("Content-Length", "0")])
            return [b""]
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AuthorizationHeaderMalformed</Code><Message>'
                f"The authorization header is malformed; the region '{signed}' is wrong; expecting '{region}'"
                f"</Message><Region>{region}</Region></Error>").encode()
        start_response("400 Bad Request", [("Content-Type", "application/xml"), ("x-amz-bucket-region", region),
                                           ("Content-Length", str(len(body)))])
        return [body]

    @staticmethod
    def _s3_access_denied(start_response, head: bool):
        body = b"" if head else (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
                                 b"<Message>Access Denied</Message></Error>")
        start_response("403 Forbidden", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
        return [body]

    @staticmethod
    def _body(environ) -> dict:
        """The JSON body, put back unchanged for moto."""
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return {}

    @staticmethod
    def _close(environ) -> None:
        """Drops the connection before any answer, as a lost response looks to a client."""
        sock = environ.get("werkzeug.socket")
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    @staticmethod
    def _classify(environ) -> tuple[str, str]:
        """(service, action): from X-Amz-Target (JSON protocols), the Action of a query-protocol
        form (the body is read and put back unchanged), or the HTTP method (S3)."""
        auth = environ.get("HTTP_AUTHORIZATION", "")
        service = auth.split("Credential=", 1)[1].split("/")[3] if "Credential=" in auth else "unsigned"
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target:
            return service, target.rsplit(".", 1)[-1]
        if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            action = parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
            return service, action or parse_qs(environ.get("QUERY_STRING", "")).get("Action", ["?"])[0]
        return service, environ.get("REQUEST_METHOD", "GET")

    def _control(self, environ, start_response, path: str):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {k[5:].lower().replace("_", "-"): v for k, v in environ.items() if k.startswith("HTTP_")}
        try:
            status, value = self.control.handle(environ["REQUEST_METHOD"], path, headers, body)
        except ControlError as e:
            status, value = e.status, {"error": str(e)}
        except (ValueError, KeyError) as e:
            status, value = 400, {"error": f"bad request: {e}"}
        except Exception as e:  # a set-up call moto refused, for instance
            logging.getLogger("rehearsal").exception("control %s failed", path)
            status, value = 500, {"error": f"{type(e).__name__}: {e}"}
        return json_answer(start_response, status, value)


def serve(rehearsal: Rehearsal, host: str, port: int):
    """The threaded WSGI server (not yet serving) and its URL."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server(host, port, App(rehearsal), threaded=True)
    url = f"http://{host}:{server.server_address[1]}"
    rehearsal.endpoint = url
    return server, url


def log(message: str) -> None:
    print(f"rehearsal: {message}", file=sys.stderr, flush=True)
