"""boto3 against connect-emulator: update, read back, be refused with a wrong secret.

Usage: python3 boto3_client.py ENDPOINT_URL
The instance "boto-instance" must exist (the Rust test starts the emulator with --auto-create
semantics). Prints one line per check; exits non-zero on the first failure.
"""
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ACCESS_KEY = "AKIDCONNECTEMULATOR"
SECRET = "connect-emulator-secret"


def client(endpoint, secret=SECRET):
    return boto3.client(
        "connect",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10),
    )


def check(label, got, want):
    if got != want:
        print(f"FAIL {label}: got {got!r}, want {want!r}")
        sys.exit(1)


def main():
    endpoint = sys.argv[1]
    connect = client(endpoint)
    instance = "boto-instance"
    for contact in ["plain-contact", "with/slash", "with space", "naïve-ü-契約", "per%cent+plus"]:
        connect.update_contact(
            InstanceId=instance,
            ContactId=contact,
            Name="Name for " + contact,
            Description="from boto3",
            SegmentAttributes={"connect:Subtype": {"ValueString": "connect:Guide"}},
            QueueInfo={"Id": "queue-1"},
            UserInfo={"UserId": "agent-7"},
            CustomerEndpoint={"Type": "TELEPHONE_NUMBER", "Address": "+15555550100"},
        )
        got = connect.describe_contact(InstanceId=instance, ContactId=contact)["Contact"]
        check(contact + " Id", got["Id"], contact)
        check(contact + " Name", got["Name"], "Name for " + contact)
        check(contact + " Description", got["Description"], "from boto3")
        check(contact + " SegmentAttributes", got["SegmentAttributes"],
              {"connect:Subtype": {"ValueString": "connect:Guide"}})
        check(contact + " QueueInfo", got["QueueInfo"]["Id"], "queue-1")
        check(contact + " AgentInfo", got["AgentInfo"]["Id"], "agent-7")
        check(contact + " CustomerEndpoint", got["CustomerEndpoint"]["Address"], "+15555550100")
        print(f"ok update+describe {contact}")

    try:
        client(endpoint, secret="wrong-secret").update_contact(
            InstanceId=instance, ContactId="plain-contact", Name="x")
        print("FAIL wrong secret was accepted")
        sys.exit(1)
    except ClientError as e:
        check("wrong secret status", e.response["ResponseMetadata"]["HTTPStatusCode"], 403)
        check("wrong secret code", e.response["Error"]["Code"], "InvalidSignatureException")
        print("ok wrong secret refused 403 InvalidSignatureException")

    try:
        connect.describe_contact(InstanceId=instance, ContactId="never-written")
        print("FAIL unknown contact was found")
        sys.exit(1)
    except ClientError as e:
        check("unknown contact code", e.response["Error"]["Code"], "ResourceNotFoundException")
        print("ok unknown contact 404 ResourceNotFoundException")

    try:
        connect.update_contact(InstanceId=instance, ContactId="plain-contact",
                               References={"ticket": {"Type": "BOGUS", "Value": "v"}})
        print("FAIL bad enum was accepted")
        sys.exit(1)
    except ClientError as e:
        check("enum code", e.response["Error"]["Code"], "InvalidParameterException")
        if "References.ticket.Type" not in e.response["Error"]["Message"]:
            print("FAIL enum message does not name the field: " + e.response["Error"]["Message"])
            sys.exit(1)
        print("ok bad enum 400 InvalidParameterException")
    print("boto3: all checks passed")


if __name__ == "__main__":
    main()
