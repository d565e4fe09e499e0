"""The same calls through boto3 and through connect_contact reach one local endpoint as the
same request: same path, same JSON body, and signatures botocore itself accepts."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unittest
from typing import Any, Dict, List
from unittest import mock

import connect_contact

from _support import ACCESS_KEY, REGION, SECRET_KEY, SESSION_TOKEN, Received, ScriptedServer, client_kwargs

try:
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config
    from botocore.credentials import Credentials
except ImportError:  # the Rust wrapper refuses skips unless told to allow them
    boto3 = None

CALLS: List[Dict[str, Any]] = [
    {"InstanceId": "instance-1", "ContactId": "contact-1", "Name": "plain"},
    {
        # Labels that need encoding: '/', space, '%' and non-ASCII.
        "InstanceId": "in/st ance%2F",
        "ContactId": "kontakt-ü-日本/1",
        "Description": "Ünïcödé description ✓",
        "References": {
            "ticket": {"Type": "URL", "Value": "https://example.com/t?a=1&b=2"},
            "n": {"Type": "NUMBER", "Value": "42"},
        },
        "SegmentAttributes": {
            "connect:Subtype": {"ValueString": "connect:Guide"},
            "nested": {"ValueMap": {"k": {"ValueList": [{"ValueInteger": 7}, {"ValueArn": "arn:aws:x"}]}}},
        },
        "QueueInfo": {"Id": "queue-1"},
        "UserInfo": {"UserId": "user-1"},
        "CustomerEndpoint": {"Type": "TELEPHONE_NUMBER", "Address": "+15555550100"},
        "SystemEndpoint": {"Type": "VOIP", "Address": "sip:a@b"},
    },
]

_AUTH = re.compile(r"^AWS4-HMAC-SHA256 Credential=([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$")


def expected_signature(req: Received, url: str) -> str:
    """The signature botocore computes for the request as received."""
    credential, signed, _ = _AUTH.match(req.headers["authorization"]).groups()  # type: ignore[union-attr]
    signed_names = signed.split(";")
    aws_request = AWSRequest(
        method=req.method,
        url=url + req.path,
        headers={name: req.headers[name] for name in signed_names},
        data=req.body,
    )
    aws_request.context["timestamp"] = req.headers["x-amz-date"]
    _, _, region, service, _ = credential.split("/")
    auth = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN), service, region)
    canonical = auth.canonical_request(aws_request)
    return auth.signature(auth.string_to_sign(aws_request, canonical), aws_request)


@unittest.skipIf(boto3 is None, "boto3 is not installed")
class Boto3EquivalenceTest(unittest.TestCase):
    def setUp(self) -> None:
        # Hermetic boto3: no shared files, no IMDS, no proxies, nothing from the caller's env.
        empty = tempfile.NamedTemporaryFile(prefix="aws-empty-", delete=False)
        empty.close()
        self.addCleanup(os.unlink, empty.name)
        hermetic = {
            "AWS_CONFIG_FILE": empty.name,
            "AWS_SHARED_CREDENTIALS_FILE": empty.name,
            "AWS_EC2_METADATA_DISABLED": "true",
            "NO_PROXY": "*",
            "no_proxy": "*",
        }
        env = mock.patch.dict(os.environ, hermetic)
        env.start()
        self.addCleanup(env.stop)
        for name in list(os.environ):  # restored by env.stop()
            if name.startswith("AWS_") and name not in hermetic:
                del os.environ[name]
        self.server = ScriptedServer()
        self.server.__enter__()
        self.addCleanup(self.server.__exit__, None, None, None)

    def _boto3_client(self) -> Any:
        session = boto3.session.Session(
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            aws_session_token=SESSION_TOKEN,
            region_name=REGION,
        )
        return session.client(
            "connect", endpoint_url=self.server.url, config=Config(retries={"max_attempts": 1})
        )

    def test_same_path_body_and_valid_signatures(self) -> None:
        boto = self._boto3_client()
        for call in CALLS:
            boto.update_contact(**call)
        with connect_contact.Client(**client_kwargs(self.server.url)) as ours:
            for call in CALLS:
                ours.update_contact(**call)
        received = self.server.received()
        self.assertEqual(len(received), 2 * len(CALLS))
        from_boto, from_ours = received[: len(CALLS)], received[len(CALLS) :]
        for call, theirs, mine in zip(CALLS, from_boto, from_ours):
            with self.subTest(call["ContactId"]):
                self.assertEqual(mine.method, theirs.method)
                self.assertEqual(mine.path, theirs.path)
                self.assertEqual(mine.json(), theirs.json())
                for req in (theirs, mine):
                    self.assertEqual(req.headers["authorization"].split(" Signature=")[1], expected_signature(req, self.server.url))
                    self.assertEqual(req.headers["x-amz-security-token"], SESSION_TOKEN)
                    signed = _AUTH.match(req.headers["authorization"]).group(2).split(";")  # type: ignore[union-attr]
                    self.assertTrue({"host", "x-amz-date", "x-amz-security-token"} <= set(signed), signed)
                    if "x-amz-content-sha256" in signed:
                        # botocore trusts this header for the payload hash; check it is the body's.
                        self.assertEqual(req.headers["x-amz-content-sha256"], hashlib.sha256(req.body).hexdigest())
        self.assertEqual(from_ours[1].path, "/contacts/in%2Fst%20ance%252F/kontakt-%C3%BC-%E6%97%A5%E6%9C%AC%2F1")

    def test_a_tampered_body_fails_verification(self) -> None:
        # Guards the check above: a verifier that accepts anything proves nothing.
        with connect_contact.Client(**client_kwargs(self.server.url)) as ours:
            ours.update_contact(**CALLS[0])
        [req] = self.server.received()
        tampered = req._replace(body=req.body.replace(b"plain", b"plaiN"))
        self.assertNotEqual(req.headers["authorization"].split(" Signature=")[1], expected_signature(tampered, self.server.url))


if __name__ == "__main__":
    unittest.main()
