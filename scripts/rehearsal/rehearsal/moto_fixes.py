"""Where moto 5.2.1's own request handling differs from AWS in a way no test should work around.

Signature check of a query holding a reserved character: moto rebuilds the request from
werkzeug's URL, in which a query value's %2F is decoded to "/", then signs that; every SigV4
client encodes "/" in a query value as %2F (the canonical query string: "URI-encode each
parameter name and value", https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html),
so a ListObjectsV2 with `prefix=a/b` fails with SignatureDoesNotMatch on moto and passes on S3.
The query is put back in the canonical encoding before moto signs it.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote

from moto.iam.access_control import IAMRequestBase


def _canonical_query(path: str) -> str:
    if "?" not in path:
        return path
    base, query = path.split("?", 1)
    pairs = parse_qsl(query, keep_blank_values=True)
    return base + "?" + "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in pairs)


def install() -> None:
    original = IAMRequestBase._create_aws_request

    def create_aws_request(self):
        self._path = _canonical_query(self._path)
        return original(self)

    IAMRequestBase._create_aws_request = create_aws_request  # type: ignore[method-assign]
