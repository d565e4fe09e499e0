#!/usr/bin/env python3
"""Runs every benchmark client against one local server, interleaved, and reports medians.

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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
METRICS = ["construct_us", "first_us", "median_us", "p99_us", "rps1", "rps2", "rss_kib"]
KEY = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


def sh(cmd, **kw):
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True, **kw)


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
        location / {{
            default_type application/json;
            add_header x-amzn-RequestId 00000000-0000-4000-8000-000000000000;
            return 200 '{{}}';
        }}
    }}
}}
"""


def start_server(tmp, emulator_bin, force_emulator):
    port = free_port()
    nginx = shutil.which("nginx") or (os.path.exists("/usr/sbin/nginx") and "/usr/sbin/nginx")
    if nginx and not force_emulator:
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(dir=tmp, port=port))
        proc = subprocess.Popen([nginx, "-c", conf, "-p", tmp, "-e", os.path.join(tmp, "error.log")])
        name = "nginx " + subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr.strip().split("/")[-1]
    else:
        proc = subprocess.Popen([
            emulator_bin, "--listen", f"127.0.0.1:{port}", "--access-key-id", KEY,
            "--secret-access-key", SECRET, "--auto-create", "--quiet",
        ])
        name = "connect-emulator (verifies signatures: the floor's replay is answered 403)"
    wait_for(port)
    return proc, port, name


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--calls", type=int, default=20000, help="timed calls per phase (Rust/C clients)")
    p.add_argument("--py-calls", type=int, default=10000)
    p.add_argument("--boto-calls", type=int, default=800)
    p.add_argument("--soak", type=int, default=100000, help="calls of the C memory soak")
    p.add_argument("--emulator", action="store_true", help="use the emulator even when nginx exists")
    p.add_argument("--skip-competitor", action="store_true")
    p.add_argument("--out", default=os.path.join(BENCH, "results", "latest.json"))
    a = p.parse_args()

    # Build what the clients need.
    root_target = target_dir(os.path.join(ROOT, "Cargo.toml"))
    sh(["cargo", "build", "--release", "--lib", "-p", "connect-contact"], cwd=ROOT)
    sh(["cargo", "build", "--release", "-p", "connect-emulator"], cwd=ROOT)
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
    c_client = os.path.join(tmp, "c_client")
    # The loader finds the library by its SONAME (build.rs names it); read it from the file.
    dynamic = subprocess.run(["readelf", "-d", lib], check=True, capture_output=True, text=True).stdout
    soname = re.search(r"Library soname: \[(.+?)\]", dynamic).group(1)
    os.symlink(lib, os.path.join(tmp, soname))
    sh(["gcc", "-O2", "-o", c_client, os.path.join(BENCH, "clients", "c_client.c"),
        "-I", os.path.join(ROOT, "include"), "-L", lib_dir, "-lconnect_contact",
        f"-Wl,-rpath,{tmp}", "-lpthread"])
    stripped = os.path.join(tmp, "libconnect_contact.stripped.so")
    shutil.copy(lib, stripped)
    sh(["strip", stripped])
    so_size = os.path.getsize(stripped)

    server, port, server_name = start_server(tmp, os.path.join(root_target, "release", "connect-emulator"), a.emulator)
    endpoint = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("AWS_") or k.endswith("_PROXY") or k.endswith("_proxy"):
            del env[k]
    env["CONNECT_CONTACT_LIB"] = lib
    env["PYTHONPATH"] = os.path.join(ROOT, "bindings", "python")
    py = os.path.join(BENCH, "clients", "py_client.py")
    clients = {
        "floor": ("raw TcpStream replaying a precomputed request (the floor)",
                  [os.path.join(bench_target, "release", "floor"), endpoint, str(a.calls)]),
        "c": ("connect-contact through the C ABI", [c_client, endpoint, str(a.calls)]),
        "python": ("connect-contact through Python (ctypes)", [sys.executable, py, "connect_contact", endpoint, str(a.py_calls)]),
        "sdk": ("aws-sdk-connect (aws-config, tokio)", [competitor, endpoint, str(a.calls)] if competitor else None),
        "boto3": ("boto3", [sys.executable, py, "boto3", endpoint, str(a.boto_calls)]),
    }
    clients = {k: v for k, v in clients.items() if v[1]}
    runs = {k: [] for k in clients}
    try:
        order = list(clients)
        for r in range(a.rounds):
            # Rotate the order each round: no client always runs right after another.
            for k in order[r % len(order):] + order[: r % len(order)]:
                out = subprocess.run(clients[k][1], env=env, capture_output=True, text=True, timeout=300)
                if out.returncode != 0:
                    raise SystemExit(f"{k} failed:\n{out.stdout}\n{out.stderr}")
                runs[k].append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(f"round {r + 1}/{a.rounds} {k}: {runs[k][-1]}", file=sys.stderr, flush=True)
        sign = subprocess.run([os.path.join(bench_target, "release", "sign")], capture_output=True, text=True, check=True)
        sign_us = json.loads(sign.stdout)["sign_us"]
        soak = subprocess.run([c_client, endpoint, str(a.soak), "soak"], env=env, capture_output=True, text=True, check=True, timeout=300)
        soak = json.loads(soak.stdout)
    finally:
        server.terminate()
        server.wait(timeout=10)

    med = {k: {m: statistics.median(x[m] for x in v if m in x) for m in METRICS} for k, v in runs.items()}
    for k, v in runs.items():
        if v and "import_us" in v[0]:
            med[k]["import_us"] = statistics.median(x["import_us"] for x in v)
    floor = med["floor"]["median_us"]

    def ratio(k):
        return med[k]["median_us"] / floor if k in med else None

    targets = {
        "C ABI per call <= 1.3x floor": (ratio("c"), ratio("c") <= 1.3),
        "C ABI >= 3.5x faster than aws-sdk-connect": (
            med["sdk"]["median_us"] / med["c"]["median_us"] if "sdk" in med else None,
            "sdk" in med and med["sdk"]["median_us"] / med["c"]["median_us"] >= 3.5),
        "Python per call <= 1.6x floor": (ratio("python"), ratio("python") <= 1.6),
        "Python >= 20x faster than boto3": (
            med["boto3"]["median_us"] / med["python"]["median_us"],
            med["boto3"]["median_us"] / med["python"]["median_us"] >= 20),
        "2 threads >= 1.9x one thread (C ABI)": (med["c"]["rps2"] / med["c"]["rps1"], med["c"]["rps2"] / med["c"]["rps1"] >= 1.9),
        "construction <= 100 us (C ABI)": (med["c"]["construct_us"], med["c"]["construct_us"] <= 100),
        "first call <= warm call + TCP connect (C ABI)": (
            med["c"]["first_us"] - med["c"]["median_us"] - med["floor"]["construct_us"],
            med["c"]["first_us"] <= med["c"]["median_us"] + med["floor"]["construct_us"]),
        "signing <= 2 us": (sign_us, sign_us <= 2.0),
        "100,000 C calls: peak RSS <= 4 MiB": (soak["peak_kib"] / 1024, soak["peak_kib"] <= 4096),
        "RSS flat over the soak (last tenth - second tenth <= 64 KiB)": (
            soak["rss_kib"][-1] - soak["rss_kib"][1], soak["rss_kib"][-1] - soak["rss_kib"][1] <= 64),
        "stripped libconnect_contact.so <= 2 MB": (so_size / 1e6, so_size <= 2_000_000),
    }

    # The table.
    print(f"\nserver: {server_name}; {a.rounds} interleaved rounds, medians; floor {floor:.1f} us/call\n")
    print("| client | construction | first call | per call (median) | vs floor | p99 | calls/s 1 thread | calls/s 2 threads | 2t/1t | peak RSS |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for k, m in med.items():
        cons = f"{m['construct_us']:.0f} µs" if m["construct_us"] < 10000 else f"{m['construct_us'] / 1000:.1f} ms"
        if "import_us" in m:
            cons += f" (+{m['import_us'] / 1000:.0f} ms import)"
        print(f"| {clients[k][0]} | {cons} | {m['first_us']:.0f} µs | {m['median_us']:.1f} µs | {ratio(k):.2f}× | "
              f"{m['p99_us']:.1f} µs | {m['rps1']:,.0f} | {m['rps2']:,.0f} | {m['rps2'] / m['rps1']:.2f} | {m['rss_kib'] / 1024:.1f} MiB |")
    print(f"\nsigning: {sign_us:.2f} µs; stripped libconnect_contact.so: {so_size / 1e6:.2f} MB; "
          f"C soak of {a.soak:,} calls: RSS by tenths {soak['rss_kib']} KiB, peak {soak['peak_kib']} KiB\n")
    print("| target | measured | met |")
    print("|---|---|---|")
    for name, (value, ok) in targets.items():
        shown = "n/a" if value is None else f"{value:.2f}"
        print(f"| {name} | {shown} | {'yes' if ok else 'NO'} |")

    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump({
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
            "server": server_name,
            "rounds": a.rounds,
            "calls": {"rust_c": a.calls, "python": a.py_calls, "boto3": a.boto_calls},
            "clients": {k: {"name": clients[k][0], "median": med[k], "runs": runs[k]} for k in clients},
            "signing_us": sign_us,
            "stripped_so_bytes": so_size,
            "soak": soak,
            "targets": {n: {"value": v, "met": bool(ok)} for n, (v, ok) in targets.items()},
        }, f, indent=1)
    print(f"\nwrote {a.out}", file=sys.stderr)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
