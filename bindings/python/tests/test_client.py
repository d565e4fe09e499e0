"""The Client against a scripted server on 127.0.0.1: results, exceptions, closing, threads."""

from __future__ import annotations

import json
import os
import pickle
import threading
import time
import unittest
from typing import Any, Dict, List
from unittest import mock

import connect_contact
from connect_contact import exceptions as exc
from connect_contact import _lib

from _support import (
    ACCESS_KEY,
    SECRET_KEY,
    SESSION_TOKEN,
    ScriptedServer,
    client_kwargs,
    closed_port_url,
    service_error,
    success,
)

# (class, HTTP status) for each error the UpdateContact model declares.
MODELED = [
    (connect_contact.AccessDeniedException, 403),
    (connect_contact.ConflictException, 409),
    (connect_contact.InternalServiceException, 500),
    (connect_contact.InvalidActiveRegionException, 400),
    (connect_contact.InvalidParameterException, 400),
    (connect_contact.InvalidRequestException, 400),
    (connect_contact.ResourceNotFoundException, 404),
    (connect_contact.ThrottlingException, 429),
]

CALL = {"InstanceId": "instance-1", "ContactId": "contact-1", "Name": "a name"}


class ServerTest(unittest.TestCase):
    """A fresh server and client per test."""

    def setUp(self) -> None:
        self.server = ScriptedServer()
        self.server.__enter__()
        self.addCleanup(self.server.__exit__, None, None, None)
        self.client = connect_contact.Client(**client_kwargs(self.server.url))
        self.addCleanup(self.client.close)


class CallTest(ServerTest):
    def test_success_returns_the_response_metadata(self) -> None:
        self.server.responder = success("req-123")
        out = self.client.update_contact(
            InstanceId="instance-1",
            ContactId="contact-1",
            Name="a name",
            References={"ref": {"Type": "URL", "Value": "https://example.com"}},
            SegmentAttributes={"connect:Subtype": {"ValueString": "connect:Guide"}},
        )
        meta = out["ResponseMetadata"]
        headers = meta.pop("HTTPHeaders")
        # As boto3's standard mode: with max_attempts 1 the first attempt reaches the limit.
        self.assertEqual(meta, {"RequestId": "req-123", "HTTPStatusCode": 200, "RetryAttempts": 0, "MaxAttemptsReached": True})
        self.assertEqual((headers["x-amzn-requestid"], headers["content-length"]), ("req-123", "2"))
        [req] = self.server.received()
        self.assertEqual((req.method, req.path), ("POST", "/contacts/instance-1/contact-1"))
        self.assertEqual(
            req.json(),
            {
                "Name": "a name",
                "References": {"ref": {"Type": "URL", "Value": "https://example.com"}},
                "SegmentAttributes": {"connect:Subtype": {"ValueString": "connect:Guide"}},
            },
        )
        self.assertTrue(req.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=" + ACCESS_KEY))
        self.assertEqual(req.headers["x-amz-security-token"], SESSION_TOKEN)

    def test_each_modeled_error_raises_its_class_with_response(self) -> None:
        for cls, http_status in MODELED:
            code = cls.__name__
            with self.subTest(code):
                self.server.responder = service_error(code, http_status, f"{code} happened", "req-" + code)
                with self.assertRaises(getattr(self.client.exceptions, code)) as ctx:
                    self.client.update_contact(**CALL)
                e = ctx.exception
                self.assertIs(type(e), cls)
                self.assertIs(getattr(connect_contact, code), cls)
                self.assertIsInstance(e, connect_contact.ClientError)
                self.assertIsInstance(e, connect_contact.Error)
                self.assertEqual(e.operation_name, "UpdateContact")
                self.assertEqual(e.response["Error"], {"Code": code, "Message": f"{code} happened"})
                meta = e.response["ResponseMetadata"]
                self.assertEqual((meta["RequestId"], meta["HTTPStatusCode"]), ("req-" + code, http_status))
                self.assertEqual(
                    str(e),
                    f"An error occurred ({code}) when calling the UpdateContact operation"
                    f" (reached max retries: 0): {code} happened",
                    "max_attempts 1: the limit is reached at once, as botocore says it",
                )
                self.assertTrue(400 <= e.status < 500 and e.status_name.startswith("CONNECT_STATUS_"), e.status)
                self.assertIs(self.client.exceptions.from_code(code), cls)
        self.assertEqual(len(self.server.received()), len(MODELED), "one attempt each")

    def test_an_unmodeled_code_is_a_plain_client_error(self) -> None:
        self.server.responder = service_error("UnrecognizedClientException", 403, "The security token is invalid")
        with self.assertRaises(connect_contact.ClientError) as ctx:
            self.client.update_contact(**CALL)
        e = ctx.exception
        self.assertIs(type(e), connect_contact.ClientError)
        self.assertEqual(e.response["Error"]["Code"], "UnrecognizedClientException")
        self.assertEqual((e.status, e.status_name), (499, "CONNECT_STATUS_SERVICE_ERROR"))
        self.assertIs(self.client.exceptions.from_code("UnrecognizedClientException"), connect_contact.ClientError)

    def test_retries_show_in_the_message_like_botocore(self) -> None:
        self.client.close()
        self.client = connect_contact.Client(**client_kwargs(self.server.url, max_attempts=2))
        self.server.responder = service_error("InternalServiceException", 500, "boom")
        with self.assertRaises(connect_contact.InternalServiceException) as ctx:
            self.client.update_contact(**CALL)
        self.assertEqual(ctx.exception.response["ResponseMetadata"]["RetryAttempts"], 1)
        self.assertIn("(reached max retries: 1)", str(ctx.exception))
        self.assertEqual(len(self.server.received()), 2)

    def test_validation_errors_send_nothing(self) -> None:
        bad_calls: List[Dict[str, Any]] = [
            {"InstanceId": "i", "ContactId": "c"},  # nothing to update
            {"ContactId": "c", "Name": "n"},  # required member missing
            {"InstanceId": "i", "ContactId": "c", "Nmae": "n"},  # unknown member
            {"InstanceId": "i", "ContactId": "c", "Name": 5},  # wrong type
            {"InstanceId": "i", "ContactId": "c", "Name": "x" * 1025},  # model limit
            {"InstanceId": "i", "ContactId": "c", "Name": b"bytes"},  # not writable as JSON
            {"InstanceId": "i", "ContactId": "c", "SegmentAttributes": {"k": {"ValueInteger": float("nan")}}},
        ]
        for call in bad_calls:
            with self.subTest(sorted(call)):
                with self.assertRaises(connect_contact.ParamValidationError) as ctx:
                    self.client.update_contact(**call)
                self.assertIn(ctx.exception.status_name, ("CONNECT_STATUS_VALIDATION", "CONNECT_STATUS_INVALID_JSON"))
                self.assertIsInstance(ctx.exception, ValueError)
        self.assertEqual(self.server.received(), [])

    def test_current_model_members_and_open_enums(self) -> None:
        """Issue 20's calls: sent as given, like boto3 (enums are open); strict_enums refuses."""
        self.server.responder = success("req-20")
        calls: List[Dict[str, Any]] = [
            {"References": {"v": {"Type": "VOICEMAIL_RECORDING", "Value": "https://v/1"}}},
            {"References": {"d": {"Type": "URL", "Value": "https://d/", "Status": "DRAFTING"}}},
            {"AdditionalRecipients": {"CcEmailAddresses": [{"EmailAddress": "jane@example.com", "DisplayName": "Jane"}]}},
            {"AdditionalRecipients": {"CcEmailAddresses": []}},
            {"References": {"f": {"Type": "A_TYPE_ADDED_LATER"}}},
        ]
        for call in calls:
            self.client.update_contact(InstanceId="i", ContactId="c", **call)
        self.assertEqual([r.json() for r in self.server.received()], calls)
        strict = connect_contact.Client(**client_kwargs(self.server.url, strict_enums=True))
        self.addCleanup(strict.close)
        with self.assertRaises(connect_contact.ParamValidationError) as ctx:
            strict.update_contact(InstanceId="i", ContactId="c", **calls[-1])
        self.assertIn("Invalid value for parameter References.f.Type, value: A_TYPE_ADDED_LATER", str(ctx.exception))
        self.assertEqual(len(self.server.received()), len(calls))

    def test_sensitive_email_members_never_appear_in_errors(self) -> None:
        with self.assertRaises(connect_contact.ParamValidationError) as ctx:
            self.client.update_contact(
                InstanceId="i",
                ContactId="c",
                AdditionalRecipients={"CcEmailAddresses": [{"EmailAddress": "CANARY-address", "DisplayName": "CANARY-name"}]},
            )
        text = str(ctx.exception) + repr(ctx.exception) + repr(ctx.exception.response)
        self.assertNotIn("CANARY", text)
        self.assertIn("Invalid value for parameter AdditionalRecipients.CcEmailAddresses[0].EmailAddress", text)
        with self.assertRaises(connect_contact.ParamValidationError) as ctx:
            self.client.update_contact(
                InstanceId="i",
                ContactId="c",
                AdditionalRecipients={"CcEmailAddresses": [{"EmailAddress": "a@b.co", "DisplayName": "CANARY" * 50}]},
            )
        self.assertNotIn("CANARY", str(ctx.exception))
        self.assertIn("Invalid length for parameter AdditionalRecipients.CcEmailAddresses[0].DisplayName, value: 300", str(ctx.exception))
        self.assertEqual(self.server.received(), [])

    def test_use_after_close_raises_and_close_is_idempotent(self) -> None:
        with connect_contact.Client(**client_kwargs(self.server.url)) as client:
            client.update_contact(**CALL)
        self.assertTrue(client.closed)
        client.close()
        with self.assertRaises(connect_contact.ClientClosedError) as ctx:
            client.update_contact(**CALL)
        self.assertIsInstance(ctx.exception, connect_contact.Error)
        self.assertEqual(ctx.exception.status_name, "CONNECT_STATUS_NULL_ARGUMENT")
        self.assertIn("closed", repr(client))
        self.assertEqual(len(self.server.received()), 1)

    def test_eight_threads_share_one_client(self) -> None:
        # The server holds every request until all eight are in flight at once, which can only
        # happen if ctypes released the GIL and the calls really overlap; no timing involved.
        all_in_flight = threading.Barrier(8, timeout=20)
        overlapped: List[bool] = []

        def hold(_req: Any) -> Any:
            try:
                all_in_flight.wait()
                overlapped.append(True)
            except threading.BrokenBarrierError:
                overlapped.append(False)
            return success()(_req)

        self.server.responder = hold
        self.client.close()
        self.client = connect_contact.Client(**client_kwargs(self.server.url, timeout_ms=30000))
        results: Dict[int, Any] = {}
        errors: List[BaseException] = []

        def work(n: int) -> None:
            try:
                results[n] = self.client.update_contact(InstanceId="i", ContactId=f"c{n}", Name=f"n{n}")
            except BaseException as e:  # reported below, with the thread's number
                errors.append(e)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=40)
        self.assertFalse(any(t.is_alive() for t in threads), "a call hung")
        self.assertEqual(errors, [])
        self.assertEqual(len(results), 8)
        paths = sorted(r.path for r in self.server.received())
        self.assertEqual(paths, sorted(f"/contacts/i/c{n}" for n in range(8)))
        self.assertEqual(overlapped, [True] * 8, "the eight calls were not in flight together")

    def test_close_waits_for_calls_in_flight(self) -> None:
        arrived = threading.Event()

        def slow(_req: Any) -> Any:
            arrived.set()
            time.sleep(0.5)
            return success()(_req)

        self.server.responder = slow
        outcome: List[Any] = []
        caller = threading.Thread(target=lambda: outcome.append(self.client.update_contact(**CALL)))
        caller.start()
        self.assertTrue(arrived.wait(timeout=10))
        self.client.close()  # must not free the handle under the running call
        caller.join(timeout=10)
        self.assertFalse(caller.is_alive())
        self.assertEqual(outcome[0]["ResponseMetadata"]["HTTPStatusCode"], 200)
        with self.assertRaises(connect_contact.ClientClosedError):
            self.client.update_contact(**CALL)

    def test_timeout_is_read_timeout_error(self) -> None:
        self.client.close()
        self.client = connect_contact.Client(**client_kwargs(self.server.url, timeout_ms=300))

        def slow(_req: Any) -> Any:
            time.sleep(1.0)
            return success()(_req)

        self.server.responder = slow
        with self.assertRaises(connect_contact.ReadTimeoutError) as ctx:
            self.client.update_contact(**CALL)
        self.assertIsInstance(ctx.exception, connect_contact.HTTPClientError)
        self.assertEqual(ctx.exception.status_name, "CONNECT_STATUS_TIMEOUT")


class RareStatusTest(unittest.TestCase):
    """The statuses no ordinary call produces (202, 302, 900), each raised as its class."""

    def test_a_failing_credential_source_is_credentials_provider_error(self) -> None:
        # Web identity (source 4) is configured but its token file is missing; STS would be a
        # dead loopback port, so nothing can leave the machine.
        env = {
            "AWS_ACCESS_KEY_ID": "",
            "AWS_SECRET_ACCESS_KEY": "",
            "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/python",
            "AWS_WEB_IDENTITY_TOKEN_FILE": "/nonexistent/connect-contact/token",
            "AWS_ENDPOINT_URL_STS": closed_port_url(),
        }
        with ScriptedServer() as server, mock.patch.dict(os.environ, env):
            with self.assertRaises(connect_contact.CredentialsProviderError) as ctx:
                with connect_contact.Client(region_name="us-east-1", endpoint_url=server.url) as client:
                    client.update_contact(**CALL)
            self.assertEqual(server.received(), [], "nothing was sent")
        self.assertEqual((ctx.exception.status, ctx.exception.status_name), (202, "CONNECT_STATUS_CREDENTIALS_PROVIDER"))
        self.assertIn("token", str(ctx.exception))

    def test_an_oversized_answer_is_invalid_response_error(self) -> None:
        oversized = lambda _req: (200, {"x-amzn-RequestId": "req-big"}, b" " * (70 * 1024))  # noqa: E731
        with ScriptedServer(oversized) as server, connect_contact.Client(**client_kwargs(server.url)) as client:
            with self.assertRaises(connect_contact.InvalidResponseError) as ctx:
                client.update_contact(**CALL)
        self.assertEqual((ctx.exception.status, ctx.exception.status_name), (302, "CONNECT_STATUS_INVALID_RESPONSE"))
        self.assertIn("larger than", str(ctx.exception))

    def test_a_caught_panic_is_internal_library_error(self) -> None:
        # The library's test hook: a client built while CONNECT_CONTACT_TEST_PANIC=1 panics
        # inside every call; the panic is caught at the C boundary, the interpreter lives on.
        with ScriptedServer() as server:
            with mock.patch.dict(os.environ, {"CONNECT_CONTACT_TEST_PANIC": "1"}):
                panicking = connect_contact.Client(**client_kwargs(server.url))
            with panicking:
                for _ in range(2):
                    with self.assertRaises(connect_contact.InternalLibraryError) as ctx:
                        panicking.update_contact(**CALL)
                    self.assertEqual((ctx.exception.status, ctx.exception.status_name), (900, "CONNECT_STATUS_PANIC"))
                    self.assertIn("panic was caught", str(ctx.exception))
            self.assertEqual(server.received(), [])
            with connect_contact.Client(**client_kwargs(server.url)) as client:
                self.assertEqual(client.update_contact(**CALL)["ResponseMetadata"]["HTTPStatusCode"], 200)
            self.assertEqual(len(server.received()), 1)


class LocalFailureTest(unittest.TestCase):
    """Failures that never reach a server."""

    def test_connection_refused_is_endpoint_connection_error(self) -> None:
        base = closed_port_url()
        with connect_contact.Client(**client_kwargs(base)) as client:
            with self.assertRaises(connect_contact.EndpointConnectionError) as ctx:
                client.update_contact(**CALL)
        self.assertEqual(ctx.exception.status, 300)
        e = ctx.exception
        self.assertIsNone(e.response, "as botocore's, which has none")
        self.assertEqual(e.document["ResponseMetadata"]["RetryAttempts"], 0)
        url = f"{base}/contacts/{CALL['InstanceId']}/{CALL['ContactId']}"
        self.assertEqual(e.kwargs["endpoint_url"], url)
        self.assertEqual(str(e), f'Could not connect to the endpoint URL: "{url}"')

    def test_no_region_and_no_credentials(self) -> None:
        # Every source of the credential chain is emptied, and the metadata service (the last
        # source) is switched off so nothing is probed beyond this machine.
        unset = ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE",
                 "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI")
        cleared = {k: "" for k in unset}
        cleared.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
                       AWS_EC2_METADATA_DISABLED="true")
        with mock.patch.dict(os.environ, cleared):
            with self.assertRaises(connect_contact.NoRegionError) as ctx:
                connect_contact.Client(aws_access_key_id="a", aws_secret_access_key="b")
            self.assertEqual(ctx.exception.status, 200)
            with self.assertRaises(connect_contact.NoCredentialsError):
                connect_contact.Client(region_name="us-east-1")

    def test_config_errors_and_profile_pass_through(self) -> None:
        with self.assertRaises(connect_contact.InvalidConfigError) as ctx:
            connect_contact.Client(region_name="us-east-1", profile_name="dev")
        self.assertIn('"profile"', str(ctx.exception))
        with self.assertRaises(connect_contact.InvalidConfigError) as ctx:
            connect_contact.Client(**client_kwargs("http://127.0.0.1:9", retries=3))
        self.assertIn('"retries" is not known', str(ctx.exception))
        with self.assertRaises(connect_contact.InvalidConfigError):
            connect_contact.Client(**client_kwargs("http://127.0.0.1:9", max_attempts=0))

    def test_config_shows_values_and_sources_never_secrets(self) -> None:
        env = {"AWS_MAX_ATTEMPTS": "6", "AWS_RETRY_MODE": "adaptive", "AWS_CONFIG_FILE": os.devnull,
               "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
        with mock.patch.dict(os.environ, env):
            kwargs = client_kwargs("http://127.0.0.1:9", proxy="http://u:CANARY-PROXY@127.0.0.1:3128")
            del kwargs["config"]["max_attempts"]
            with connect_contact.Client(**kwargs) as client:
                config = client.config()
        self.assertEqual(config["region"], {"value": "us-east-1", "source": 'config key "region"'})
        self.assertEqual(config["max_attempts"], {"value": 6, "source": "AWS_MAX_ATTEMPTS"})
        self.assertEqual(config["retry_mode"], {"value": "adaptive", "source": "AWS_RETRY_MODE"})
        self.assertEqual(config["timeout_ms"], {"value": 5000, "source": 'config key "timeout_ms"'})
        self.assertEqual(config["attempt_timeout_ms"], {"value": 5000, "source": "default"})
        self.assertEqual(config["secret_access_key"], {"source": config["access_key_id"]["source"]})
        self.assertEqual(config["proxy"], {"source": 'config key "proxy"'})
        text = json.dumps(config)
        for secret in (SECRET_KEY, SESSION_TOKEN, "CANARY-PROXY"):
            self.assertNotIn(secret, text)
        client.close()
        with self.assertRaises(connect_contact.ClientClosedError):
            client.config()

    def test_secrets_never_appear_in_errors_or_repr(self) -> None:
        shown: List[str] = []

        def collect(e: BaseException) -> None:
            shown.extend([str(e), repr(e), repr(e.args), json.dumps(getattr(e, "response", None))])

        with ScriptedServer(service_error("AccessDeniedException", 403, "denied")) as server:
            with connect_contact.Client(**client_kwargs(server.url)) as client:
                shown.append(repr(client))
                for call in (CALL, {"InstanceId": "i", "ContactId": "c", "Name": 1}):
                    try:
                        client.update_contact(**call)
                    except connect_contact.Error as e:
                        collect(e)
        with connect_contact.Client(**client_kwargs(closed_port_url())) as client:
            try:
                client.update_contact(**CALL)
            except connect_contact.Error as e:
                collect(e)
        for bad_secret in (SECRET_KEY + " with a space", SECRET_KEY + "\n"):
            kwargs = client_kwargs("http://127.0.0.1:9")
            kwargs["aws_secret_access_key"] = bad_secret
            try:
                connect_contact.Client(**kwargs)
            except connect_contact.InvalidConfigError as e:
                collect(e)
        self.assertEqual(len(shown), 1 + 4 * 5)
        for text in shown:
            self.assertNotIn("CANARY", text)

    def test_status_table_matches_the_library(self) -> None:
        for status in connect_contact.Status:
            self.assertEqual(_lib.lib().connect_status_name(status).decode(), "CONNECT_STATUS_" + status.name)
        # The other way: every number the library has a name for (statuses are 0..999 by
        # group, docs/errors.md) is in the binding's table, under that name.
        library = {}
        for number in range(1000):
            name = _lib.lib().connect_status_name(number).decode()
            if name != "CONNECT_STATUS_UNKNOWN":
                library[number] = name
        ours = {int(s): "CONNECT_STATUS_" + s.name for s in connect_contact.Status}
        self.assertEqual(ours, library)
        self.assertGreaterEqual(len(library), 25)
        self.assertEqual(_lib.lib().connect_status_name(5), b"CONNECT_STATUS_UNKNOWN")
        self.assertEqual(exc.status_name(5), "CONNECT_STATUS_UNKNOWN")
        self.assertIs(type(exc.error_for_status(5, "odd")), connect_contact.InternalLibraryError)
        self.assertRegex(connect_contact.version(), r"^\d+\.\d+\.\d+")

    def test_exceptions_pickle(self) -> None:
        doc = {"Error": {"Code": "ThrottlingException", "Message": "slow down"}, "ResponseMetadata": {"RetryAttempts": 2}}
        for e in (
            exc.error_for_status(407, "", doc),
            exc.error_for_status(300, "refused", {"Error": {"Code": "X", "Message": "refused"}}),
        ):
            back = pickle.loads(pickle.dumps(e))
            self.assertIs(type(back), type(e))
            self.assertEqual((str(back), back.status, back.status_name, back.response), (str(e), e.status, e.status_name, e.response))
        self.assertEqual(back.status_name, "CONNECT_STATUS_TRANSPORT")


if __name__ == "__main__":
    unittest.main()
