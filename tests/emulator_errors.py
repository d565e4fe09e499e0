"""Every error the emulator can inject, through boto3, our Python client and the AWS CLI: each
must raise the exception class (the CLI: print the error) a real service answer would. Usage:
emulator_errors.py ENDPOINT.

Prints one "ok CLIENT CODE" line per check; exits non-zero at the first mismatch."""

import json
import os
import subprocess
import sys
import urllib.request

import boto3
import botocore.config
import botocore.exceptions

import connect_contact

ENDPOINT = sys.argv[1]
KEY, SECRET, REGION = "AKIDCONNECTEMULATOR", "connect-emulator-secret", "us-east-1"
# (code, HTTP status, modeled by UpdateContact)
ERRORS = [
    ("AccessDeniedException", 403, True),
    ("ConflictException", 409, True),
    ("InvalidActiveRegionException", 400, True),
    ("InvalidParameterException", 400, True),
    ("InvalidRequestException", 400, True),
    ("ResourceNotFoundException", 404, True),
    ("InternalServiceException", 500, True),
    ("ThrottlingException", 429, True),
    ("ServiceUnavailableException", 503, False),
]


def inject(code):
    request = urllib.request.Request(
        ENDPOINT + "/_emulator/faults",
        data=json.dumps({"sequence": [code]}).encode(),
        method="PUT",
    )
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request) as r:
        assert r.status == 200, r.status


def check(client_name, client, modeled_base, code, status, modeled):
    inject(code)
    try:
        client.update_contact(InstanceId="inst", ContactId="c", Name="n")
    except modeled_base as e:
        expected = getattr(client.exceptions, code) if modeled else modeled_base
        if type(e) is not expected and not (not modeled and isinstance(e, expected)):
            sys.exit(f"{client_name} {code}: raised {type(e).__name__}, expected {expected.__name__}")
        if e.response["Error"]["Code"] != code:
            sys.exit(f"{client_name} {code}: Error.Code is {e.response['Error']['Code']}")
        meta = e.response["ResponseMetadata"]
        if meta["HTTPStatusCode"] != status or not meta.get("RequestId"):
            sys.exit(f"{client_name} {code}: metadata {meta}")
        if not e.response["Error"].get("Message"):
            sys.exit(f"{client_name} {code}: no message in {e.response['Error']}")
        print(f"ok {client_name} {code} {status}")
        return
    sys.exit(f"{client_name} {code}: no exception")


def check_cli(code, status):
    """The AWS CLI prints the service's code and fails (v1, the awscli package, exits 255 for a
    service error; v2 exits 254)."""
    inject(code)
    env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET, AWS_MAX_ATTEMPTS="1")
    result = subprocess.run(
        [sys.executable, "-m", "awscli", "connect", "update-contact", "--endpoint-url", ENDPOINT,
         "--region", REGION, "--instance-id", "inst", "--contact-id", "c", "--name", "n"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    expected = f"An error occurred ({code}) when calling the UpdateContact operation"
    if result.returncode not in (254, 255) or expected not in result.stderr:
        sys.exit(f"aws-cli {code}: exit {result.returncode}, stderr {result.stderr!r}")
    print(f"ok aws-cli {code} {status}")


boto = boto3.client(
    "connect",
    region_name=REGION,
    endpoint_url=ENDPOINT,
    aws_access_key_id=KEY,
    aws_secret_access_key=SECRET,
    config=botocore.config.Config(retries={"total_max_attempts": 1}),
)
ours = connect_contact.Client(
    region_name=REGION,
    endpoint_url=ENDPOINT,
    aws_access_key_id=KEY,
    aws_secret_access_key=SECRET,
    config={"max_attempts": 1, "allow_http": True},
)
for code, status, modeled in ERRORS:
    check("boto3", boto, botocore.exceptions.ClientError, code, status, modeled)
    check("connect_contact", ours, connect_contact.ClientError, code, status, modeled)
    check_cli(code, status)
print("all errors raised as modeled")
