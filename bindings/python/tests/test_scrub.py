"""An endpoint that echoes what it was sent (AWS services quote values: "Value '...' at 'name'
failed to satisfy constraint") never gets the session token, the secret key or a sensitive
request value into an exception, its ``.response`` or a response: issue 22, defect 3.
The server is a ScriptedServer on 127.0.0.1."""

from __future__ import annotations

import json
import unittest
from typing import Any

import connect_contact

from _support import SECRET_KEY, SESSION_TOKEN, Received, ScriptedServer, client_kwargs

CALL = dict(
    InstanceId="scrub",
    ContactId="c",
    Name="CANARY-NAME-python",
    Description="CANARY-DESCRIPTION-python",
    AdditionalRecipients={"CcEmailAddresses": [{"EmailAddress": "CANARY-MAIL@example.com", "DisplayName": "CANARY-DISPLAY"}]},
)


def echo(request: Received) -> Any:
    token = request.headers.get("x-amz-security-token", "")
    # The secret key never travels; an endpoint quoting it anyway is simulated.
    message = f"Value '{request.body.decode()}' at 'name' failed to satisfy constraint; {token}; {SECRET_KEY}"
    headers = {
        "x-amzn-RequestId": f"req-{token}",
        "x-amzn-ErrorType": "InvalidParameterException",
        "Content-Type": "application/json",
    }
    return 400, headers, json.dumps({"message": message}).encode()


class EchoedValuesAreScrubbed(unittest.TestCase):
    def test_nothing_secret_or_sensitive_comes_back(self) -> None:
        with ScriptedServer(echo) as server:
            with connect_contact.Client(**client_kwargs(server.url)) as client:
                with self.assertRaises(connect_contact.ClientError) as ctx:
                    client.update_contact(**CALL)
            sent = server.received()[0]
        self.assertEqual(sent.headers.get("x-amz-security-token"), SESSION_TOKEN, "the token was sent, so echoed")
        error = ctx.exception
        shown = " ".join([str(error), repr(error), json.dumps(error.response)])
        for canary in ("CANARY", SECRET_KEY, SESSION_TOKEN):
            self.assertNotIn(canary, shown)
        self.assertIn("** redacted **", error.response["Error"]["Message"])
        self.assertIn("at 'name' failed to satisfy constraint", error.response["Error"]["Message"])
        self.assertEqual(error.response["Error"]["Code"], "InvalidParameterException")


if __name__ == "__main__":
    unittest.main()
