"""This library through its Python binding, boto3, or awscrt (its HTTP client with its SigV4
signer): the measurement protocol of docs/performance.md, one JSON line.
Usage: py_client.py connect_contact|boto3|awscrt ENDPOINT CALLS
(AWS_CA_BUNDLE names the CA of an https:// endpoint: the binding and boto3 read it themselves.)"""
import io
import os
import resource
import sys
import threading
import time
import urllib.parse

KIND, ENDPOINT, CALLS = sys.argv[1], sys.argv[2], int(sys.argv[3])
ARGS = dict(
    InstanceId="11111111-2222-3333-4444-555555555555",
    ContactId="aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
    Name="bench",
    Description="performance run",
)
KEYS = dict(
    region_name="us-east-1",
    endpoint_url=ENDPOINT,
    aws_access_key_id="AKIDEXAMPLE",
    aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
)



def awscrt_client():
    """awscrt's pieces a caller keeps: event loop, TLS context, signing config; one HTTP/1.1
    connection per thread (awscrt's Python HTTP client has no pool), opened by its first call."""
    from awscrt import auth, http
    from awscrt import io as crt_io

    url = urllib.parse.urlsplit(ENDPOINT)
    tls = url.scheme == "https"
    port = url.port or (443 if tls else 80)
    bootstrap = crt_io.ClientBootstrap.get_or_create_static_default()
    tls_options = None
    if tls:
        opts = crt_io.TlsContextOptions()
        if os.environ.get("AWS_CA_BUNDLE"):
            opts.override_default_trust_store_from_path(None, os.environ["AWS_CA_BUNDLE"])
        tls_options = crt_io.ClientTlsContext(opts).new_connection_options()
        tls_options.set_server_name(url.hostname)
    signing = auth.AwsSigningConfig(
        algorithm=auth.AwsSigningAlgorithm.V4,
        signature_type=auth.AwsSignatureType.HTTP_REQUEST_HEADERS,
        credentials_provider=auth.AwsCredentialsProvider.new_static(
            KEYS["aws_access_key_id"], KEYS["aws_secret_access_key"]
        ),
        region="us-east-1",
        service="connect",
    )
    path = "/contacts/%s/%s" % (ARGS["InstanceId"], ARGS["ContactId"])
    host = url.netloc
    local = threading.local()

    def update_contact(**args):
        conn = getattr(local, "conn", None)
        if conn is None or not conn.is_open():
            conn = local.conn = http.HttpClientConnection.new(
                host_name=url.hostname, port=port, bootstrap=bootstrap, tls_connection_options=tls_options
            ).result(10)
        body = ('{"Name":"%s","Description":"%s"}' % (args["Name"], args["Description"])).encode()
        request = http.HttpRequest(
            "POST",
            path,
            http.HttpHeaders(
                [("host", host), ("content-type", "application/json"), ("content-length", str(len(body)))]
            ),
            io.BytesIO(body),
        )
        auth.aws_sign_request(request, signing).result(10)
        chunks = []
        stream = conn.request(request, on_body=lambda chunk, **_: chunks.append(chunk))
        stream.activate()
        status = stream.completion_future.result(10)
        if status != 200:
            raise SystemExit("awscrt: HTTP %d %s" % (status, b"".join(chunks)))
        return b"".join(chunks)

    class Client:
        pass

    client = Client()
    client.update_contact = update_contact
    return client


cpu = time.process_time()
t = time.perf_counter()
if KIND == "awscrt":
    import awscrt.auth  # noqa: F401
    import awscrt.http  # noqa: F401

    imported = time.perf_counter() - t
    cpu = time.process_time()
    t = time.perf_counter()
    client = awscrt_client()
elif KIND == "boto3":
    import boto3
    import botocore.config

    imported = time.perf_counter() - t
    cpu = time.process_time()
    t = time.perf_counter()
    client = boto3.client(
        "connect", config=botocore.config.Config(retries={"mode": "standard"}), **KEYS
    )
else:
    import connect_contact

    imported = time.perf_counter() - t
    cpu = time.process_time()
    t = time.perf_counter()
    client = connect_contact.Client(config={"allow_http": True}, **KEYS)
construct = time.perf_counter() - t
construct_cpu = time.process_time() - cpu

call = client.update_contact
cpu = time.process_time()
t = time.perf_counter()
call(**ARGS)
first = time.perf_counter() - t
first_cpu = time.process_time() - cpu
for _ in range(CALLS // 10):
    call(**ARGS)
lat = []
clock = time.perf_counter
t1 = clock()
for _ in range(CALLS):
    s = clock()
    call(**ARGS)
    lat.append(clock() - s)
one = clock() - t1
call(**ARGS)


def work():
    for _ in range(CALLS):
        call(**ARGS)


threads = [threading.Thread(target=work) for _ in range(2)]
t2 = clock()
for th in threads:
    th.start()
for th in threads:
    th.join()
two = clock() - t2
lat.sort()
print(
    '{"construct_us":%.1f,"construct_cpu_us":%.1f,"import_us":%.1f,"first_us":%.1f,'
    '"first_cpu_us":%.1f,"median_us":%.2f,"p99_us":%.2f,"rps1":%.0f,"rps2":%.0f,"rss_kib":%d}'
    % (
        construct * 1e6,
        construct_cpu * 1e6,
        imported * 1e6,
        first * 1e6,
        first_cpu * 1e6,
        lat[len(lat) // 2] * 1e6,
        lat[len(lat) * 99 // 100] * 1e6,
        CALLS / one,
        2 * CALLS / two,
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    )
)
