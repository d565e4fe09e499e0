"""The same calls through boto3 and through connect_contact reach one local endpoint as the
same request: same path, same JSON body, and signatures botocore itself accepts."""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import tempfile
import threading
import time
import unittest
from typing import Any, Dict, List
from unittest import mock

import connect_contact

from _support import (
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    SESSION_TOKEN,
    Received,
    ScriptedServer,
    client_kwargs,
    closed_port_url,
    service_error,
    success,
)

# boto3 is required (scripts/test installs it into .venv): without it this module fails to
# import and the run fails; it is never skipped.
import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

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


def _without_dates(response: Any) -> Any:
    """A response dict with HTTPHeaders' Date removed (the one header that differs by time)."""
    if not isinstance(response, dict):
        return response
    out = dict(response)
    meta = dict(out.get("ResponseMetadata") or {})
    if "HTTPHeaders" in meta:
        meta["HTTPHeaders"] = {k: v for k, v in meta["HTTPHeaders"].items() if k != "date"}
    out["ResponseMetadata"] = meta
    return out


MODELED_ERRORS = [
    ("AccessDeniedException", 403),
    ("ConflictException", 409),
    ("InternalServiceException", 500),
    ("InvalidActiveRegionException", 400),
    ("InvalidParameterException", 400),
    ("InvalidRequestException", 400),
    ("ResourceNotFoundException", 404),
    ("ThrottlingException", 429),
    ("UnrecognizedClientException", 403),  # not modeled: a plain ClientError on both sides
]


class Boto3ErrorEquivalenceTest(unittest.TestCase):
    """The same failing loopback server seen through boto3 (standard retry mode) and through
    connect_contact: equal exception classes, equal ``str(e)``, equal ``e.response`` (Date
    aside) and the same number of attempts. Never skipped: boto3 is a test requirement."""

    CALL = {"InstanceId": "instance-1", "ContactId": "contact-1", "Name": "n"}

    def setUp(self) -> None:
        Boto3EquivalenceTest.setUp(self)  # type: ignore[arg-type]  # hermetic env + a server

    def _both(self, url: str, attempts: int, **timeouts: float) -> List[BaseException]:
        """Makes the call through boto3, then through ours; returns the two exceptions."""
        session = boto3.session.Session(
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            aws_session_token=SESSION_TOKEN,
            region_name=REGION,
        )
        config = Config(retries={"mode": "standard", "total_max_attempts": attempts}, **timeouts)
        theirs = session.client("connect", endpoint_url=url, config=config)
        ours_config: Dict[str, Any] = {"max_attempts": attempts, "retry_mode": "standard", "timeout_ms": 20000}
        if "connect_timeout" in timeouts:
            ours_config["connect_timeout_ms"] = int(timeouts["connect_timeout"] * 1000)
        if "read_timeout" in timeouts:
            ours_config["attempt_timeout_ms"] = int(timeouts["read_timeout"] * 1000)
        raised: List[BaseException] = []
        with connect_contact.Client(**client_kwargs(url, **ours_config)) as ours:
            for client in (theirs, ours):
                try:
                    client.update_contact(**self.CALL)
                except Exception as e:  # noqa: BLE001 - both sides' exceptions are compared
                    raised.append(e)
                else:
                    self.fail(f"{type(client).__name__}: no error")
        return raised

    def _assert_same(self, theirs: BaseException, mine: BaseException) -> None:
        self.assertEqual(type(mine).__name__, type(theirs).__name__)
        self.assertEqual(str(mine), str(theirs))
        self.assertEqual(
            _without_dates(getattr(mine, "response", None)),
            _without_dates(getattr(theirs, "response", None)),
        )
        if hasattr(theirs, "kwargs"):
            self.assertEqual(mine.kwargs["endpoint_url"], theirs.kwargs["endpoint_url"])  # type: ignore[attr-defined]

    def test_every_modeled_error_and_an_unmodeled_one(self) -> None:
        for code, status in MODELED_ERRORS:
            with self.subTest(code):
                self.server.responder = service_error(code, status, f"{code}: it failed", "req-" + code)
                before = len(self.server.received())
                theirs, mine = self._both(self.server.url, attempts=2)
                self._assert_same(theirs, mine)
                self.assertIsInstance(mine, connect_contact.ClientError)
                sent = len(self.server.received()) - before
                retried = code in ("InternalServiceException", "ThrottlingException")
                self.assertEqual(sent, 2 * (2 if retried else 1), "the same attempts on both sides")
                if retried:  # the limit reached: botocore's note in str(), the message untouched
                    self.assertIn("(reached max retries: 1)", str(mine))
                    self.assertEqual(mine.response["Error"]["Message"], f"{code}: it failed")  # type: ignore[attr-defined]

    def test_bodies_as_the_service_and_load_balancers_send_them(self) -> None:
        def reply(status: int, body: bytes, error_type: str = "") -> Any:
            headers = {"x-amzn-RequestId": "req-body", "Content-Type": "application/json"}
            if error_type:
                headers["x-amzn-ErrorType"] = error_type
            return lambda _req: (status, headers, body)

        reason = {"AttachedFileInvalidRequestExceptionReason": "INVALID_FILE_NAME"}
        cases = {
            # The service's own form: the model's member names, which boto3 copies next to Error.
            "modeled members": reply(
                400, json.dumps({"Message": "bad file", "Reason": reason}).encode(), "InvalidRequestException"
            ),
            "capital Message": reply(404, b'{"Message": "no such contact"}', "ResourceNotFoundException"),
            "code in the body": reply(409, b'{"__type": "com.amazonaws.connect#ConflictException"}'),
            "no body": reply(403, b"", "AccessDeniedException"),
            "not JSON": reply(400, b"plain words", "InvalidParameterException"),
            "a load balancer's page": reply(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
            "an empty 503": reply(503, b"", "ServiceUnavailableException"),
        }
        for name, responder in cases.items():
            with self.subTest(name):
                self.server.responder = responder
                theirs, mine = self._both(self.server.url, attempts=1)
                self._assert_same(theirs, mine)
        self.server.responder = cases["modeled members"]
        _, mine = self._both(self.server.url, attempts=1)
        self.assertEqual(mine.response["Reason"], reason)  # type: ignore[attr-defined]

    def test_throttling_until_max_attempts(self) -> None:
        self.server.responder = service_error("ThrottlingException", 429, "Rate exceeded", "req-429")
        theirs, mine = self._both(self.server.url, attempts=3)
        self._assert_same(theirs, mine)
        self.assertEqual(len(self.server.received()), 6)
        self.assertEqual(
            str(mine),
            "An error occurred (ThrottlingException) when calling the UpdateContact operation"
            " (reached max retries: 2): Rate exceeded",
        )
        meta = mine.response["ResponseMetadata"]  # type: ignore[attr-defined]
        self.assertEqual((meta["MaxAttemptsReached"], meta["RetryAttempts"]), (True, 2))
        self.assertEqual(meta["HTTPHeaders"]["x-amzn-requestid"], "req-429")
        self.assertEqual(
            mine.document["Details"]["StopReason"],  # type: ignore[attr-defined]
            "gave up after 3 attempts: max_attempts 3 reached",
        )

    def test_read_timeout(self) -> None:
        def slow(req: Received) -> Any:
            time.sleep(1.2)
            return success()(req)

        self.server.responder = slow
        theirs, mine = self._both(self.server.url, attempts=1, read_timeout=0.4, connect_timeout=2.0)
        self._assert_same(theirs, mine)
        self.assertIsInstance(mine, connect_contact.ReadTimeoutError)
        self.assertEqual(str(mine), f'Read timeout on endpoint URL: "{self.server.url}/contacts/instance-1/contact-1"')

    def test_connect_timeout(self) -> None:
        # A listener whose accept queue is full and never drained: new connects hang in SYN.
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        self.addCleanup(listener.close)
        port = listener.getsockname()[1]
        for _ in range(1000):
            s = socket.socket()
            self.addCleanup(s.close)
            s.settimeout(0.1)
            try:
                s.connect(("127.0.0.1", port))
            except OSError:
                break
        else:
            self.fail("the accept queue never filled")
        url = f"http://127.0.0.1:{port}"
        theirs, mine = self._both(url, attempts=1, connect_timeout=0.4, read_timeout=2.0)
        self._assert_same(theirs, mine)
        self.assertIsInstance(mine, connect_contact.ConnectTimeoutError)
        self.assertEqual(str(mine), f'Connect timeout on endpoint URL: "{url}/contacts/instance-1/contact-1"')

    def test_connection_closed_without_an_answer(self) -> None:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.settimeout(10)
        self.addCleanup(listener.close)

        def close_each(count: int) -> None:
            for _ in range(count):  # one connection per side
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                with conn:
                    conn.settimeout(5)
                    conn.recv(65536)

        closer = threading.Thread(target=close_each, args=(2,), daemon=True)
        closer.start()
        url = "http://127.0.0.1:%d" % listener.getsockname()[1]
        theirs, mine = self._both(url, attempts=1)
        closer.join(timeout=10)
        self._assert_same(theirs, mine)
        self.assertIsInstance(mine, connect_contact.ConnectionClosedError)
        self.assertEqual(
            str(mine),
            f'Connection was closed before we received a valid response from endpoint URL: "{url}/contacts/instance-1/contact-1".',
        )

    def test_refused_connection(self) -> None:
        url = closed_port_url()
        theirs, mine = self._both(url, attempts=1)
        self._assert_same(theirs, mine)
        self.assertIsInstance(mine, connect_contact.EndpointConnectionError)
        self.assertEqual(str(mine), f'Could not connect to the endpoint URL: "{url}/contacts/instance-1/contact-1"')
