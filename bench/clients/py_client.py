"""This library through its Python binding, or boto3: the measurement protocol of
docs/performance.md, one JSON line.  Usage: py_client.py connect_contact|boto3 ENDPOINT CALLS"""
import resource
import sys
import threading
import time

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

t = time.perf_counter()
if KIND == "boto3":
    import boto3
    import botocore.config

    imported = time.perf_counter() - t
    t = time.perf_counter()
    client = boto3.client(
        "connect", config=botocore.config.Config(retries={"mode": "standard"}), **KEYS
    )
else:
    import connect_contact

    imported = time.perf_counter() - t
    t = time.perf_counter()
    client = connect_contact.Client(config={"allow_http": True}, **KEYS)
construct = time.perf_counter() - t

call = client.update_contact
t = time.perf_counter()
call(**ARGS)
first = time.perf_counter() - t
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
    '{"construct_us":%.1f,"import_us":%.1f,"first_us":%.1f,"median_us":%.2f,"p99_us":%.2f,'
    '"rps1":%.0f,"rps2":%.0f,"rss_kib":%d}'
    % (
        construct * 1e6,
        imported * 1e6,
        first * 1e6,
        lat[len(lat) // 2] * 1e6,
        lat[len(lat) * 99 // 100] * 1e6,
        CALLS / one,
        2 * CALLS / two,
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    )
)
