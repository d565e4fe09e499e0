#!/usr/bin/env python3
"""Runs every benchmark client against one local nginx, over plain HTTP and over TLS,
interleaved, and reports medians; counts round trips through a delay proxy; times the cold
start piece by piece; measures the library's size by crate. Writes bench/results/latest.json
and docs/performance.md (with docs/latency.svg).

Started by bench/run.sh (which documents the options); see docs/performance.md for the protocol.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from delay_proxy import DelayProxy  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
METRICS = ["construct_us", "construct_cpu_us", "first_us", "first_cpu_us", "median_us", "p99_us",
           "rps1", "rps2", "rss_kib"]
KEY = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SCHEMES = ["http", "https"]
# The name the proxied endpoint uses: not loopback (the library never proxies loopback), and
# never resolved by the client (the delay proxy's CONNECT sends every tunnel to nginx).
PROXIED_HOST = "connect.bench.test"
# Round trips a call may cost (the limit): TLS 1.3 is one round trip before the request; a
# CONNECT through a proxy one more.
TRIP_LIMITS = {
    "direct": {"cold": 2, "warm": 1, "after_idle": 2},
    "proxy": {"cold": 3, "warm": 1, "after_idle": 3},
}


def sh(cmd, **kw):
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, check=True, **kw)


def target_dir(manifest):
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps", "--manifest-path", manifest],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)["target_directory"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port, seconds=10.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"the server did not start on 127.0.0.1:{port}")


NGINX_CONF = """
daemon off;
worker_processes 2;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 600s;
    server {{
        listen 127.0.0.1:{port};
        listen 127.0.0.1:{tls_port} ssl;
        ssl_certificate {dir}/server.pem;
        ssl_certificate_key {dir}/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{
            default_type application/json;
            add_header x-amzn-RequestId 00000000-0000-4000-8000-000000000000;
            return 200 '{{}}';
        }}
    }}
}}
"""


def make_certificates(tmp):
    """A test CA and a server certificate for 127.0.0.1, localhost and PROXIED_HOST (P-256
    keys, as most services' front ends offer); returns the CA bundle's path."""
    ca_key, ca = os.path.join(tmp, "ca.key"), os.path.join(tmp, "ca.pem")
    key, csr, cert = (os.path.join(tmp, n) for n in ("server.key", "server.csr", "server.pem"))
    ext = os.path.join(tmp, "server.ext")
    with open(ext, "w") as f:
        f.write(f"subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:{PROXIED_HOST}\n"
                "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")
    quiet = {"capture_output": True}
    sh(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=connect-contact bench CA"], **quiet)
    sh(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"], **quiet)
    sh(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-out", cert, "-days", "2", "-extfile", ext], **quiet)
    return ca


def start_nginx(tmp, pin=None):
    port, tls_port = free_port(), free_port()
    nginx = shutil.which("nginx") or (os.path.exists("/usr/sbin/nginx") and "/usr/sbin/nginx")
    if not nginx:
        raise SystemExit("nginx is missing: bench/run.sh installs it (apt-get install nginx-light)")
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        conf_text = NGINX_CONF.format(dir=tmp, port=port, tls_port=tls_port)
        if pin is not None:
            # One worker, on the clients' CPU (worker_cpu_affinity takes a bit mask).
            mask = "1" + "0" * pin
            conf_text = conf_text.replace("worker_processes 2;", f"worker_processes 1;\nworker_cpu_affinity {mask};")
        f.write(conf_text)
    proc = subprocess.Popen([nginx, "-c", conf, "-p", tmp, "-e", os.path.join(tmp, "error.log")])
    name = "nginx " + subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr.strip().split("/")[-1]
    wait_for(port)
    wait_for(tls_port)
    return proc, port, tls_port, name


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": model, "platform": platform.platform(),
            "python": platform.python_version(), "load_average": list(os.getloadavg())}


def size_by_crate(root_target):
    """Bytes of the library by crate: the symbols of a non-stripped build of the same profile
    (in target/unstripped), from `nm -S`, each given to the crate its demangled path starts
    with (C and assembly symbols of ring's by their prefix). cargo-bloat refuses a library
    that is also an rlib and a staticlib, so this does its job with nm. Also the duplicate crate
    versions linked in (cargo tree -d)."""
    out = {"crates": None, "duplicates": None}
    target = os.path.join(root_target, "unstripped")
    env = dict(os.environ, CONNECT_CONTACT_KEEP_SYMBOLS="1")
    sh(["cargo", "build", "--release", "--lib", "-p", "connect-contact", "--target-dir", target], cwd=ROOT, env=env)
    lib = os.path.join(target, "release", "libconnect_contact.so")
    nm = subprocess.run(["nm", "-S", "-C", lib], check=True, capture_output=True, text=True).stdout
    crates = {}
    for line in nm.splitlines():
        m = re.match(r"^[0-9a-f]+ ([0-9a-f]+) ([tTdDrRbB]) (.*)$", line)
        if m:
            kind = 0 if m.group(2) in "tT" else 1
            crates.setdefault(crate_of(m.group(3)), [0, 0])[kind] += int(m.group(1), 16)
    out["crates"] = sorted(({"name": k, "code": v[0], "data": v[1]} for k, v in crates.items()),
                           key=lambda r: -(r["code"] + r["data"]))
    out["unstripped_bytes"] = os.path.getsize(lib)
    tree = subprocess.run(["cargo", "tree", "-d", "-e", "normal,no-proc-macro", "-p", "connect-contact", "--depth", "0"],
                          cwd=ROOT, capture_output=True, text=True)
    out["duplicates"] = sorted({l.strip() for l in tree.stdout.splitlines()
                                if l.strip() and not l.startswith(" ")})
    return out


def release_profile():
    """The root Cargo.toml's [profile.release] lines, for the report."""
    with open(os.path.join(ROOT, "Cargo.toml")) as f:
        text = f.read()
    section = text.split("[profile.release]", 1)[1].split("\n[", 1)[0]
    return [l.strip() for l in section.splitlines() if l.strip() and not l.strip().startswith("#")]


def crate_of(symbol):
    """The crate a demangled symbol belongs to: `<a::B as c::D>::f` is a's, `a::b::c` a's."""
    s = symbol.lstrip("<&*")
    for prefix in ("dyn ", "mut ", "const "):
        if s.startswith(prefix):
            s = s[len(prefix):].lstrip("<&*")
    if "::" in s:
        head = re.split(r"[^A-Za-z0-9_]", s.split("::", 1)[0])[0]
        return {"core": "std", "alloc": "std", "std": "std"}.get(head, head or "[other]")
    if s.startswith(("ring_core_", "ecp_nistz256", "GFp_", "aes_", "gcm_", "chacha20_", "x25519_",
                     "p256_", "p384_", "sha256_", "sha512_", "bn_", "LIMBS_", "CRYPTO_", "OPENSSL_")):
        return "ring (C and assembly)"
    if s.startswith("connect_"):
        return "connect_contact (C ABI)"
    if s.startswith(("sqlite3", "sqlite", "Sqlite")) or s[:1].islower() and "_" in s and s.islower():
        return "[C: SQLite (bundled by rusqlite) and other C]"
    return "[C runtime, unnamed]"


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--calls", type=int, default=20000, help="timed calls per phase (Rust/C clients)")
    p.add_argument("--py-calls", type=int, default=10000)
    p.add_argument("--crt-calls", type=int, default=4000)
    p.add_argument("--boto-calls", type=int, default=800)
    p.add_argument("--soak", type=int, default=100000, help="calls of the C memory soak")
    p.add_argument("--one-way-ms", type=float, default=100.0, help="delay proxy: half a round trip")
    p.add_argument("--skip-competitor", action="store_true")
    p.add_argument("--skip-size", action="store_true", help="no size by crate (it builds a non-stripped copy)")
    p.add_argument("--pin", default="0",
                   help="the CPU the server and every client share (see pinned()); 'none' to let them spread")
    p.add_argument("--out", default=os.path.join(BENCH, "results", "latest.json"))
    p.add_argument("--doc", default=os.path.join(ROOT, "docs", "performance.md"))
    a = p.parse_args()
    started = machine()

    # Build what the clients need.
    root_target = target_dir(os.path.join(ROOT, "Cargo.toml"))
    sh(["cargo", "build", "--release", "--lib", "-p", "connect-contact"], cwd=ROOT)
    sh(["cargo", "build", "--release", "--bins", "--manifest-path", os.path.join(BENCH, "Cargo.toml")])
    bench_target = target_dir(os.path.join(BENCH, "Cargo.toml"))
    competitor = None
    if not a.skip_competitor:
        manifest = os.path.join(BENCH, "competitor", "Cargo.toml")
        # Always its own target directory: a shared CARGO_TARGET_DIR would rebuild the SDK
        # (about 6 minutes) whenever the library's own builds move.
        own = {k: v for k, v in os.environ.items() if k != "CARGO_TARGET_DIR"}
        sh(["cargo", "build", "--release", "--manifest-path", manifest], env=own)
        competitor = os.path.join(BENCH, "competitor", "target", "release", "connect-bench-competitor")
    lib_dir = os.path.join(root_target, "release")
    lib = os.path.join(lib_dir, "libconnect_contact.so")
    tmp = tempfile.mkdtemp(prefix="connect-bench-")
    c_client, curl_client = os.path.join(tmp, "c_client"), os.path.join(tmp, "curl_client")
    # The loader finds the library by its SONAME (build.rs names it); read it from the file.
    dynamic = subprocess.run(["readelf", "-d", lib], check=True, capture_output=True, text=True).stdout
    soname = re.search(r"Library soname: \[(.+?)\]", dynamic).group(1)
    os.symlink(lib, os.path.join(tmp, soname))
    sh(["gcc", "-O2", "-o", c_client, os.path.join(BENCH, "clients", "c_client.c"),
        "-I", os.path.join(ROOT, "include"), "-L", lib_dir, "-lconnect_contact",
        f"-Wl,-rpath,{tmp}", "-lpthread"])
    sh(["gcc", "-O2", "-o", curl_client, os.path.join(BENCH, "clients", "curl_client.c"), "-lcurl", "-lpthread"])
    curl_version = subprocess.run(["curl-config", "--version"], capture_output=True, text=True).stdout.strip()
    stripped = os.path.join(tmp, "libconnect_contact.stripped.so")
    shutil.copy(lib, stripped)
    sh(["strip", stripped])
    so_size = os.path.getsize(stripped)
    venv_python = os.path.join(BENCH, ".venv", "bin", "python")
    python = venv_python if os.path.exists(venv_python) else sys.executable

    ca = make_certificates(tmp)
    pin = None if a.pin == "none" else int(a.pin)
    server, port, tls_port, server_name = start_nginx(tmp, pin)
    endpoints = {"http": f"http://127.0.0.1:{port}", "https": f"https://127.0.0.1:{tls_port}"}
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("AWS_") or k.endswith("_PROXY") or k.endswith("_proxy"):
            del env[k]
    # The test CA: read by this library, boto3 and the floor (AWS_CA_BUNDLE), the SDK's rustls
    # native roots (SSL_CERT_FILE), libcurl and awscrt (given it by their clients).
    env.update(CONNECT_CONTACT_LIB=lib, PYTHONPATH=os.path.join(ROOT, "bindings", "python"),
               AWS_CA_BUNDLE=ca, SSL_CERT_FILE=ca)
    py = os.path.join(BENCH, "clients", "py_client.py")
    names = {
        "floor": "floor: raw TcpStream / raw rustls stream replaying a precomputed request",
        "c": "connect-contact through the C ABI",
        "python": "connect-contact through Python (ctypes)",
        "curl": f"libcurl {curl_version.split()[-1]} + CURLOPT_AWS_SIGV4 (C)",
        "sdk": "aws-sdk-connect (aws-config, tokio)",
        "awscrt": "awscrt (Python): its HTTP client and SigV4 signer",
        "boto3": "boto3",
    }

    def command(k, endpoint):
        return {
            "floor": [os.path.join(bench_target, "release", "floor"), endpoint, str(a.calls)],
            "c": [c_client, endpoint, str(a.calls)],
            "python": [python, py, "connect_contact", endpoint, str(a.py_calls)],
            "curl": [curl_client, endpoint, str(a.calls)],
            "sdk": [competitor, endpoint, str(a.calls)] if competitor else None,
            "awscrt": [python, py, "awscrt", endpoint, str(a.crt_calls)],
            "boto3": [python, py, "boto3", endpoint, str(a.boto_calls)],
        }[k]

    clients = [k for k in names if command(k, "x")]
    runs = {s: {k: [] for k in clients} for s in SCHEMES}
    failed = {s: {} for s in SCHEMES}
    trips, coldstart = {}, {}
    try:
        for r in range(a.rounds):
            for scheme in SCHEMES:
                # Rotate the order each round: no client always runs right after another.
                for k in clients[r % len(clients):] + clients[: r % len(clients)]:
                    if k in failed[scheme]:
                        continue
                    out = subprocess.run(pinned(command(k, endpoints[scheme]), pin), env=env, capture_output=True,
                                         text=True, timeout=600)
                    if out.returncode != 0:
                        if k in ("floor", "c"):
                            raise SystemExit(f"{k} over {scheme} failed:\n{out.stdout}\n{out.stderr}")
                        # A peer that cannot run here is reported as such, not silently dropped.
                        failed[scheme][k] = (out.stderr.strip().splitlines() or ["exit status %d" % out.returncode])[-1][:200]
                        print(f"{k} over {scheme} FAILED: {out.stderr[-2000:]}", file=sys.stderr, flush=True)
                        continue
                    runs[scheme][k].append(json.loads(out.stdout.strip().splitlines()[-1]))
                    print(f"round {r + 1}/{a.rounds} {scheme} {k}: {runs[scheme][k][-1]}", file=sys.stderr, flush=True)

        # Round trips, through the delay proxy in front of the TLS server.
        one_way = a.one_way_ms / 1000
        for mode in ["direct", "proxy"]:
            proxy = DelayProxy(tls_port, one_way, idle_close=0.3)
            try:
                trip_env = dict(env)
                if mode == "direct":
                    endpoint = f"https://127.0.0.1:{proxy.port}"
                else:
                    endpoint = f"https://{PROXIED_HOST}:{tls_port}"
                    trip_env["BENCH_CONFIG"] = f'"proxy":"http://127.0.0.1:{proxy.proxy_port}"'
                out = subprocess.run([c_client, endpoint, "5", "trips", "800"], env=trip_env,
                                     capture_output=True, text=True, timeout=60)
                if out.returncode != 0:
                    raise SystemExit(f"round trips ({mode}) failed:\n{out.stdout}\n{out.stderr}")
                times = json.loads(out.stdout)
                trips[mode] = {k.removesuffix("_us"): round(v / 1e6 / (2 * one_way), 2) for k, v in times.items()}
                trips[mode]["connections"] = proxy.connections
            finally:
                proxy.stop()

        # Cold start, piece by piece, each first in a fresh process.
        for piece in ["nothing", "ring_provider", "webpki_roots", "tls_config", "client_http", "client_https",
                      "client_https_bundle", "client_https_second"]:
            samples = []
            for _ in range(7):
                out = sh(pinned([os.path.join(bench_target, "release", "coldstart"), piece, endpoints["https"]], pin),
                         env=env, capture_output=True, text=True)
                samples.append(json.loads(out.stdout))
            coldstart[piece] = {m: median(s[m] for s in samples) for m in ["wall_us", "cpu_us"]}
        stages = []
        for _ in range(7):
            out = sh(pinned([os.path.join(bench_target, "release", "coldstart"), "stages", endpoints["https"]], pin),
                     env=env, capture_output=True, text=True)
            stages.append(json.loads(out.stdout))
        for stage in ["parse", "resolve", "construct"]:
            coldstart[f"first client, stage: {stage}"] = {
                "wall_us": median(s[stage][0] for s in stages), "cpu_us": median(s[stage][1] for s in stages)}

        sign = sh([os.path.join(bench_target, "release", "sign")], capture_output=True, text=True)
        sign_us = json.loads(sign.stdout)["sign_us"]
        soak = {}
        for scheme in SCHEMES:
            out = sh(pinned([c_client, endpoints[scheme], str(a.soak), "soak"], pin), env=env, capture_output=True,
                     text=True, timeout=600)
            soak[scheme] = json.loads(out.stdout)
    finally:
        server.terminate()
        server.wait(timeout=10)

    size = {"crates": None, "duplicates": None} if a.skip_size else size_by_crate(root_target)

    # Medians over rounds; overheads and ratios computed within each round, then their median.
    med, over, ratios = {}, {}, {}
    for scheme in SCHEMES:
        r = {k: v for k, v in runs[scheme].items() if k not in failed[scheme]}
        med[scheme] = {k: {m: median(x.get(m) for x in v) for m in METRICS + ["import_us", "construct2_us"]}
                       for k, v in r.items()}
        over[scheme] = {k: median(x["median_us"] - f["median_us"] for x, f in zip(r[k], r["floor"]))
                        for k in r}

        def per_round(fn, ks):
            return median(fn(*(r[k][i] for k in ks)) for i in range(a.rounds)) if all(k in r for k in ks) else None

        ratios[scheme] = {
            "c_vs_floor": per_round(lambda c, f: c["median_us"] / f["median_us"], ["c", "floor"]),
            "python_vs_floor": per_round(lambda c, f: c["median_us"] / f["median_us"], ["python", "floor"]),
            "sdk_overhead_vs_c": per_round(lambda s, c, f: (s["median_us"] - f["median_us"]) / max(c["median_us"] - f["median_us"], 0.1), ["sdk", "c", "floor"]),
            "sdk_vs_c": per_round(lambda s, c: s["median_us"] / c["median_us"], ["sdk", "c"]),
            "curl_vs_c": per_round(lambda u, c: u["median_us"] / c["median_us"], ["curl", "c"]),
            "boto3_vs_python": per_round(lambda b, p_: b["median_us"] / p_["median_us"], ["boto3", "python"]),
            "awscrt_vs_python": per_round(lambda w, p_: w["median_us"] / p_["median_us"], ["awscrt", "python"]),
            "c_first_cpu_beyond_floor": per_round(lambda c, f: c["first_cpu_us"] - f["first_cpu_us"], ["c", "floor"]),
            "c_rps2_vs_rps1": per_round(lambda c: c["rps2"] / c["rps1"], ["c"]),
        }
    handshake_cpu = median(t["first_cpu_us"] - p_["first_cpu_us"]
                           for t, p_ in zip(runs["https"]["floor"], runs["http"]["floor"]))

    def ok(value, limit, below=True):
        return value is not None and (value <= limit if below else value >= limit)

    t, h = ratios["http"], ratios["https"]
    cs = med["https"]["c"]
    # Elapsed / round trip; half a round trip of slack for CPU time on a loaded machine.
    trips_excess = max(trips[m][k] - lim for m, lims in TRIP_LIMITS.items() for k, lim in lims.items())
    trips_ok = trips_excess <= 0.5
    targets = {
        # Issue 16.
        "TLS: C ABI overhead above the rustls floor <= 10 us": (over["https"]["c"], ok(over["https"]["c"], 10)),
        "TLS: C ABI overhead <= 1/10 of aws-sdk-connect's (their ratio)": (h["sdk_overhead_vs_c"], ok(h["sdk_overhead_vs_c"], 10, False)),
        "TLS: ahead of libcurl + SigV4 (curl per call / ours)": (h["curl_vs_c"], ok(h["curl_vs_c"], 1.0, False)),
        "round trips at the limit (cold 2, warm 1, after idle 2; via proxy 3/1/3): largest excess <= 0.5": (trips_excess, trips_ok),
        "first client in a process <= 50 us (C ABI, TLS endpoint)": (cs["construct_us"], ok(cs["construct_us"], 50)),
        "first call CPU beyond the floor's <= 50 us (TLS; handshake in both)": (h["c_first_cpu_beyond_floor"], ok(h["c_first_cpu_beyond_floor"], 50)),
        "stripped libconnect_contact.so <= 2.5 MB": (so_size / 1e6, so_size <= 2_500_000),
        "100,000 C calls over TLS: peak RSS <= 4 MiB": (soak["https"]["peak_kib"] / 1024, soak["https"]["peak_kib"] <= 4096),
        "RSS flat over the TLS soak (last tenth - second tenth <= 64 KiB)": (
            soak["https"]["rss_kib"][-1] - soak["https"]["rss_kib"][1], soak["https"]["rss_kib"][-1] - soak["https"]["rss_kib"][1] <= 64),
        # Issue 7, plain HTTP.
        "plain: C ABI per call <= 1.3x floor": (t["c_vs_floor"], ok(t["c_vs_floor"], 1.3)),
        "plain: C ABI >= 3.5x faster than aws-sdk-connect": (t["sdk_vs_c"], ok(t["sdk_vs_c"], 3.5, False)),
        "plain: Python per call <= 1.6x floor": (t["python_vs_floor"], ok(t["python_vs_floor"], 1.6)),
        "plain: Python >= 20x faster than boto3": (t["boto3_vs_python"], ok(t["boto3_vs_python"], 20, False)),
        "signing <= 2 us": (sign_us, sign_us <= 2.0),
    }
    if pin is None:
        # Pinned to one CPU, two threads can only share it: the target applies unpinned.
        targets["plain: 2 threads >= 1.9x one thread (C ABI)"] = (
            t["c_rps2_vs_rps1"], ok(t["c_rps2_vs_rps1"], 1.9, False))

    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": started, "load_average_end": list(os.getloadavg()), "pinned_cpu": pin,
        "server": server_name, "rounds": a.rounds,
        "calls": {"rust_c_curl": a.calls, "python": a.py_calls, "awscrt": a.crt_calls, "boto3": a.boto_calls},
        "clients": {k: names[k] for k in clients},
        "median": med, "failed": failed, "overhead_us": over, "ratios": ratios, "runs": runs,
        "tls_handshake_cpu_us": handshake_cpu, "round_trips": trips, "round_trip_limits": TRIP_LIMITS,
        "one_way_delay_ms": a.one_way_ms, "coldstart": coldstart, "signing_us": sign_us,
        "stripped_so_bytes": so_size, "size": size, "soak": soak, "profile": release_profile(),
        "targets": {n: {"value": v, "met": bool(o)} for n, (v, o) in targets.items()},
    }
    text = render(report)
    print("\n" + text)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(report, f, indent=1)
    os.makedirs(os.path.dirname(a.doc), exist_ok=True)
    svg = os.path.join(os.path.dirname(a.doc), "latency.svg")
    with open(svg, "w") as f:
        f.write(chart(report))
    write_doc(a.doc, report, text, os.path.basename(svg))
    print(f"\nwrote {a.out}, {a.doc} and {svg}", file=sys.stderr)
    shutil.rmtree(tmp, ignore_errors=True)
    if not trips_ok:
        raise SystemExit(f"ROUND TRIPS ABOVE THE LIMIT: measured {trips}, limits {TRIP_LIMITS}")


def us(v):
    if v is None:
        return "n/a"
    return f"{v:.0f} µs" if v < 10000 else f"{v / 1000:.1f} ms"


def render(rep):
    """The report's tables (Markdown), as printed and as in docs/performance.md."""
    lines = [f"server: {rep['server']} on 127.0.0.1; {rep['rounds']} interleaved rounds; medians over rounds, "
             "overheads and ratios computed within each round", ""]
    lines.append("| client | scheme | per call (median) | p99 | above the floor | calls/s 1 thread | calls/s 2 threads "
                 "| construction | first call (CPU) | peak RSS |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    for k, name in rep["clients"].items():
        for s in SCHEMES:
            if k in rep["failed"][s]:
                lines.append(f"| {name} | {'TLS' if s == 'https' else 'plain'} | failed: {rep['failed'][s][k]} |||||||| ")
                continue
            m = rep["median"][s][k]
            cons = us(m["construct_us"])
            if m.get("import_us"):
                cons += f" (+{m['import_us'] / 1000:.0f} ms import)"
            above = "—" if k == "floor" else f"{rep['overhead_us'][s][k]:+.1f} µs"
            lines.append(f"| {name} | {'TLS' if s == 'https' else 'plain'} | {m['median_us']:.1f} µs | {m['p99_us']:.1f} µs "
                         f"| {above} | {m['rps1']:,.0f} | {m['rps2']:,.0f} | {cons} | {us(m['first_us'])} "
                         f"({us(m['first_cpu_us'])}) | {m['rss_kib'] / 1024:.1f} MiB |")
    lines.append("")
    lines.append(f"Round trips of the C ABI client through a delay proxy ({rep['one_way_delay_ms']:.0f} ms each way; "
                 "elapsed / round trip):")
    lines.append("")
    lines.append("| path | cold call | warm call | after the server closed the idle connection | connections opened |")
    lines.append("|---|---|---|---|---|")
    for mode, v in rep["round_trips"].items():
        lim = rep["round_trip_limits"][mode]
        lines.append(f"| {'direct' if mode == 'direct' else 'through an HTTP proxy (CONNECT)'} | {v['cold']:.2f} (limit {lim['cold']}) "
                     f"| {v['warm']:.2f} (limit {lim['warm']}) | {v['after_idle']:.2f} (limit {lim['after_idle']}) | {v['connections']} |")
    lines.append("")
    lines.append("Cold start, each piece first in a fresh process (median of 7; wall / CPU):")
    lines.append("")
    lines.append("| piece | wall | CPU |")
    lines.append("|---|---|---|")
    for piece, v in rep["coldstart"].items():
        lines.append(f"| {piece} | {v['wall_us']:.0f} µs | {v['cpu_us']:.0f} µs |")
    c = rep["median"]["https"]["c"]
    lines.append("")
    lines.append(f"C ABI over TLS: first client {c['construct_us']:.0f} µs ({c['construct_cpu_us']:.0f} µs CPU), a second one "
                 f"{c['construct2_us']:.0f} µs; first call CPU beyond the rustls floor's {rep['ratios']['https']['c_first_cpu_beyond_floor']:.0f} µs; "
                 f"TLS handshake compute (floor's first TLS call minus its first plain call, CPU) {rep['tls_handshake_cpu_us']:.0f} µs.")
    lines.append("")
    soak = rep["soak"]
    lines.append(f"signing {rep['signing_us']:.2f} µs; stripped libconnect_contact.so {rep['stripped_so_bytes'] / 1e6:.2f} MB; "
                 f"C soak of 100,000-call runs: plain peak {soak['http']['peak_kib']} KiB, TLS peak {soak['https']['peak_kib']} KiB "
                 f"(RSS by tenths over TLS: {soak['https']['rss_kib']} KiB)")
    size = rep["size"]
    if size.get("crates"):
        rows = size["crates"]
        code, data = sum(r["code"] for r in rows), sum(r["data"] for r in rows)
        lines.append("")
        lines.append(f"Size by crate (symbols of a non-stripped build of the same profile, `nm -S`: code "
                     f"{code / 1e6:.2f} MB, read-only and other data {data / 1e6:.2f} MB; the rest of the "
                     "stripped file is ELF tables, unwind information and relocations):")
        lines.append("")
        lines.append("| crate | code bytes | data bytes |")
        lines.append("|---|---|---|")
        for row in rows[:20]:
            lines.append(f"| {row['name']} | {row['code']:,} | {row['data']:,} |")
        rest = rows[20:]
        if rest:
            lines.append(f"| {len(rest)} others | {sum(r['code'] for r in rest):,} | {sum(r['data'] for r in rest):,} |")
    if size.get("duplicates") is not None:
        lines.append("")
        lines.append("Duplicate crate versions in the library's dependencies (cargo tree -d): "
                     + (", ".join(size["duplicates"]) or "none"))
    lines.append("")
    lines.append("Release profile: " + ", ".join(f"`{l}`" for l in rep.get("profile", [])))
    lines.append("")
    lines.append("| target | measured | met |")
    lines.append("|---|---|---|")
    for name, v in rep["targets"].items():
        shown = "n/a" if v["value"] is None else f"{v['value']:.2f}"
        lines.append(f"| {name} | {shown} | {'yes' if v['met'] else 'NO'} |")
    return "\n".join(lines)


def chart(rep):
    """Per-call latency (median) by client, plain and TLS, as a horizontal bar chart on a log
    scale (the clients span two orders of magnitude)."""
    import math

    rows = [(rep["clients"][k], s, rep["median"][s][k]["median_us"])
            for k in rep["clients"] for s in SCHEMES if k in rep["median"][s]]
    left, width, bar, gap = 330, 420, 14, 10
    lo = 10 ** math.floor(math.log10(min(v for _, _, v in rows)))
    hi = 10 ** math.ceil(math.log10(max(v for _, _, v in rows)))
    x = lambda v: left + width * (math.log10(max(v, lo)) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))  # noqa: E731
    height = 40 + len(rep["clients"]) * (2 * bar + gap) + 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 80}" height="{height}" '
           'font-family="sans-serif" font-size="11">',
           f'<text x="10" y="18" font-size="13">Per-call latency, median (µs, log scale) — {rep["server"]}, loopback, '
           f'{rep["date"][:10]}</text>']
    d = lo
    while d <= hi:
        out.append(f'<line x1="{x(d):.1f}" y1="28" x2="{x(d):.1f}" y2="{height - 30}" stroke="#ddd"/>'
                   f'<text x="{x(d):.1f}" y="{height - 16}" text-anchor="middle">{d:g}</text>')
        d *= 10
    y = 36
    colours = {"http": "#7aa6c2", "https": "#d9822b"}
    for k, name in rep["clients"].items():
        out.append(f'<text x="{left - 8}" y="{y + bar + 4}" text-anchor="end">{name[:52]}</text>')
        for s in SCHEMES:
            if k not in rep["median"][s]:
                y += bar
                continue
            v = rep["median"][s][k]["median_us"]
            out.append(f'<rect x="{left}" y="{y}" width="{x(v) - left:.1f}" height="{bar - 2}" fill="{colours[s]}"/>'
                       f'<text x="{x(v) + 4:.1f}" y="{y + bar - 4}">{v:.0f}</text>')
            y += bar
        y += gap
    out.append(f'<rect x="{left}" y="{height - 12}" width="10" height="8" fill="{colours["http"]}"/>'
               f'<text x="{left + 14}" y="{height - 4}">plain HTTP</text>'
               f'<rect x="{left + 100}" y="{height - 12}" width="10" height="8" fill="{colours["https"]}"/>'
               f'<text x="{left + 114}" y="{height - 4}">TLS</text></svg>')
    return "\n".join(out) + "\n"


FIGURES = "## Last run"


def pinned(cmd, pin):
    """`cmd` run on CPU `pin` (taskset), or as is when `pin` is None. On the virtual machines
    this runs on, waking a process on another vCPU costs 40-300 µs, varying from minute to
    minute (measured 2026-12-02 with the raw-socket floor against nginx: median 84-360 µs per
    call across CPUs, 16-19 µs with both on one CPU), which drowns the few µs each client adds.
    With the server and the client on one CPU a call costs what its code and the kernel's
    loopback path cost, nothing else."""
    return cmd if pin is None else ["taskset", "-c", str(pin)] + cmd


def write_doc(path, rep, text, svg_name):
    """docs/performance.md: its "Last run" section is replaced (up to the next section); the
    rest of the file is kept."""
    m = rep["machine"]
    figures = "\n".join([
        FIGURES, "",
        f"Written by `bench/run.sh` on {rep['date']}: {m['cpus']} CPUs ({m['cpu'] or 'unknown model'}), "
        f"{m['platform']}, Python {m['python']}; load average {m['load_average'][0]:.1f} at the start and "
        f"{rep['load_average_end'][0]:.1f} at the end (a shared machine: the ratios, computed within each "
        "round, are the figures that count; absolute times are context); "
        + (f"server and clients pinned to CPU {rep['pinned_cpu']} (see Protocol), so the two-thread "
           "figures are two threads sharing that CPU."
           if rep.get("pinned_cpu") is not None else "server and clients free to use every CPU (`--pin none`)."), "",
        f"![Per-call latency by client]({svg_name})", "",
        text, "", "",
    ])
    old = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
    if FIGURES in old:
        start = old.index(FIGURES)
        rest = old[start + len(FIGURES):]
        end = rest.find("\n## ")
        tail = "" if end < 0 else rest[end + 1:]
        new = old[:start] + figures + tail
    else:
        new = (old.rstrip("\n") + "\n\n" if old else "# Performance\n\n") + figures
    with open(path, "w") as f:
        f.write(new)


if __name__ == "__main__":
    main()
