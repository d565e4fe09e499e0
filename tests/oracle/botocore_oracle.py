"""botocore as the oracle for what connect-contact sends.

Reads a JSON file of captured requests (written by tests/it/botocore_oracle.rs) and, for each:
1. serialises the same input with botocore and checks the path bytes and JSON body are equal;
2. recomputes the SigV4 signature of *our* request with botocore's signer, at our timestamp
   and over the headers our Authorization names, and checks it is the one we sent.
Exits 1 with a description of every mismatch; prints "N cases equivalent" otherwise.
"""
import json
import re
import sys
from urllib.parse import urlsplit

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.session


class Captured(Exception):
    def __init__(self, request):
        super().__init__("captured")
        self.request = request


def botocore_request(client, params):
    def capture(request, **_):
        raise Captured(request)

    client.meta.events.register("before-send.connect.UpdateContact", capture)
    try:
        client.update_contact(**params)
    except Captured as c:
        return c.request
    finally:
        client.meta.events.unregister("before-send.connect.UpdateContact", capture)
    raise AssertionError("botocore sent nothing")


def verify_signature(capture, creds, region, endpoint):
    auth_header = capture["headers"]["authorization"]
    match = re.match(
        r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/connect/aws4_request, "
        r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$",
        auth_header,
    )
    if not match:
        return "Authorization header has an unexpected form: " + auth_header.split("Signature=")[0]
    access_key, date, scope_region, signed, signature = match.groups()
    if access_key != creds.access_key or scope_region != region:
        return "credential scope is wrong"
    headers = {name: capture["headers"][name] for name in signed.split(";")}
    request = botocore.awsrequest.AWSRequest(
        method=capture["method"], url=endpoint + capture["path"], data=capture["body"].encode("utf-8"), headers=headers
    )
    request.context["timestamp"] = capture["headers"]["x-amz-date"]
    if not request.context["timestamp"].startswith(date):
        return "x-amz-date and the credential scope disagree"
    signer = botocore.auth.SigV4Auth(creds, "connect", region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if expected != signature:
        return "signature mismatch; botocore's canonical request:\n" + canonical
    if sorted(headers) != sorted(signer.headers_to_sign(request).keys()):
        return "botocore would sign a different header set"
    return None


# Values for patterned string shapes: a pattern cannot be sampled generically, so a new one
# fails generation loudly (the drift shows) until a sample is added here.
PATTERN_SAMPLES = {
    "^[-:/A-Za-z0-9]+": "arn:aws:connect:us-east-1:123456789012:instance/x",
    "[^\\s@]+@[^\\s@]+\\.[^\\s@]+": "person@example.com",
}


def sample(shape, depth=0):
    """A value botocore accepts for `shape`, exercising every member once."""
    kind = shape.type_name
    if kind == "string":
        if shape.enum:
            return shape.enum[-1]
        pattern = shape.metadata.get("pattern")
        if pattern is not None:
            if pattern not in PATTERN_SAMPLES:
                raise SystemExit("no sample for the pattern %r of %s; add one to PATTERN_SAMPLES" % (pattern, shape.name))
            return PATTERN_SAMPLES[pattern]
        return "v" * max(1, shape.metadata.get("min", 1))
    if kind == "integer":
        return -7
    if kind == "structure":
        return {name: sample(member, depth + 1) for name, member in shape.members.items()
                if depth < 3 or name in shape.required_members}
    if kind == "map":
        return {"k": sample(shape.value, depth + 1)}
    if kind == "list":
        return [sample(shape.member, depth + 1)]
    raise SystemExit("no sample for %s (%s)" % (shape.name, kind))


def generated_cases():
    """One case per member of botocore's UpdateContact input, from botocore's own model."""
    model = botocore.session.get_session().get_service_model("connect")
    shape = model.operation_model("UpdateContact").input_shape
    cases = []
    for name, member in shape.members.items():
        if name in ("InstanceId", "ContactId"):
            continue
        cases.append({"InstanceId": "gen", "ContactId": name, name: sample(member)})
    return {"botocore_version": botocore.__version__, "cases": cases}


def main(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    creds = botocore.credentials.Credentials(data["access_key_id"], data["secret_access_key"], data["session_token"])
    client = botocore.session.get_session().create_client(
        "connect",
        region_name=data["region"],
        endpoint_url=data["endpoint"],
        aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key,
        aws_session_token=creds.token,
    )
    problems = []
    for i, capture in enumerate(data["captures"]):
        label = "case %d (%s / %s)" % (i, capture["input"]["InstanceId"], capture["input"]["ContactId"])
        theirs = botocore_request(client, capture["input"])
        their_path = urlsplit(theirs.url).path
        if their_path != capture["path"]:
            problems.append("%s: path differs: ours %r, botocore %r" % (label, capture["path"], their_path))
        their_body = json.loads(theirs.body.decode("utf-8")) if theirs.body else {}
        if json.loads(capture["body"]) != their_body:
            problems.append("%s: body differs: ours %s, botocore %s" % (label, capture["body"], their_body))
        their_type = theirs.headers.get("Content-Type")
        if isinstance(their_type, bytes):
            their_type = their_type.decode("ascii")
        if their_type != capture["headers"].get("content-type"):
            problems.append("%s: content-type differs" % label)
        problem = verify_signature(capture, creds, data["region"], data["endpoint"])
        if problem:
            problems.append("%s: %s" % (label, problem))
    for p in problems:
        print("MISMATCH", p)
    print("%d cases equivalent" % (len(data["captures"]) - len({p.split(":")[0] for p in problems})))
    return 1 if problems else 0


if __name__ == "__main__":
    if sys.argv[1] == "--generate":
        print(json.dumps(generated_cases()))
        sys.exit(0)
    sys.exit(main(sys.argv[1]))
