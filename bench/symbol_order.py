#!/usr/bin/env python3
"""Writes bench/symbol-order.txt: the library's functions that a C program runs when it builds a
client and calls UpdateContact over TLS and plain HTTP (bench/clients/c_client.c against the
benchmark's nginx), in the order callgrind first lists them. build.rs hands the file to the
linker (LLD's --symbol-ordering-file), which places those functions first and together: a
short-lived process then faults in a few 64 KB runs of the library's code instead of pieces of
all of it (docs/performance.md, "Cold start").

Run it after changing the hot path, the compiler or a dependency (names carry their crate's
hash): `python3 bench/symbol_order.py`, then `bench/run.sh` to see the effect. Needs valgrind,
nginx and openssl (bench/run.sh installs the last two). A stale file is harmless: names the
linker cannot find are skipped.
"""
import json
import os
import subprocess
import sys
import tempfile

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)
import run  # noqa: E402  (the benchmark's helpers: certificates, nginx, target directory)

OUT = os.path.join(BENCH, "symbol-order.txt")


def main():
    target = os.path.join(run.target_dir(os.path.join(ROOT, "Cargo.toml")), "unstripped")
    # The same profile as the shipped library, linked without stripping: the same names.
    env = dict(os.environ, CONNECT_CONTACT_KEEP_SYMBOLS="1")
    run.sh(["cargo", "build", "--release", "--lib", "-p", "connect-contact", "--target-dir", target],
           cwd=ROOT, env=env)
    lib_dir = os.path.join(target, "release")
    tmp = tempfile.mkdtemp(prefix="connect-order-")
    dynamic = subprocess.run(["readelf", "-d", os.path.join(lib_dir, "libconnect_contact.so")],
                             check=True, capture_output=True, text=True).stdout
    soname = dynamic.split("Library soname: [", 1)[1].split("]", 1)[0]
    os.symlink(os.path.join(lib_dir, "libconnect_contact.so"), os.path.join(tmp, soname))
    client = os.path.join(tmp, "c_client")
    run.sh(["gcc", "-O2", "-o", client, os.path.join(BENCH, "clients", "c_client.c"),
            "-I", os.path.join(ROOT, "include"), "-L", lib_dir, "-lconnect_contact",
            f"-Wl,-rpath,{tmp}", "-lpthread"])
    ca = run.make_certificates(tmp)
    server, port, tls_port, _ = run.start_nginx(tmp)
    names, seen = [], set()
    try:
        clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "AWS_CA_BUNDLE": ca}
        for endpoint in [f"https://127.0.0.1:{tls_port}", f"http://127.0.0.1:{port}"]:
            out = os.path.join(tmp, "callgrind.out")
            run.sh(["valgrind", "--tool=callgrind", "--demangle=no", "--compress-strings=no",
                    f"--callgrind-out-file={out}", client, endpoint, "200"],
                   env=clean, capture_output=True)
            obj = None
            with open(out) as f:
                for line in f:
                    if line.startswith("ob="):
                        obj = line[3:].strip()
                    elif line.startswith("fn=") and obj and "libconnect_contact" in obj:
                        name = line[3:].strip()
                        if name not in seen and not name.startswith("0x"):
                            seen.add(name)
                            names.append(name)
    finally:
        server.terminate()
        server.wait(timeout=10)
    with open(OUT, "w") as f:
        f.write("# Written by bench/symbol_order.py: the functions a client's construction and its\n"
                "# calls run (TLS, then plain HTTP), for the linker's --symbol-ordering-file.\n")
        f.write("\n".join(names) + "\n")
    print(json.dumps({"functions": len(names), "file": os.path.relpath(OUT, ROOT)}))


if __name__ == "__main__":
    main()
