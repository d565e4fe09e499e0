"""Builds the Rust library with cargo and ships it inside the package.

`pip install ./bindings/python`, `pip wheel`, `python -m build` (an sdist, then a wheel from
it): each runs `cargo build --release` on the crate and copies libconnect_contact.so into the
package, where the loader looks first. No Python extension is compiled (the binding is
ctypes), so the wheel is tagged py3-none-<platform>: any CPython 3.9+ on that platform.

The crate is the repository's (../../Cargo.toml) in a checkout, or rust/ inside an sdist: the
sdist command copies what `cargo build --lib` needs (the manifest without the test targets,
dev-dependencies and workspace members, which an sdist does not carry; Cargo.lock; build.rs;
cbindgen.toml; src/). Needs cargo (https://rustup.rs) on PATH or in $CARGO.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from typing import List, Optional, Tuple

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
LIBRARY = "libconnect_contact.so"
# What an sdist carries of the crate (relative to its root); directories are copied whole.
CRATE_FILES = ("Cargo.lock", "build.rs", "cbindgen.toml", "src")


def crate_dir() -> Tuple[str, bool]:
    """(directory holding the crate's Cargo.toml, whether it is the repository checkout)."""
    bundled = os.path.join(HERE, "rust")
    if os.path.isfile(os.path.join(bundled, "Cargo.toml")):
        return bundled, False
    in_tree = os.path.normpath(os.path.join(HERE, "..", ".."))
    if os.path.isfile(os.path.join(in_tree, "Cargo.toml")):
        return in_tree, True
    sys.exit("connect_contact: the Rust crate is missing (neither rust/ nor ../../Cargo.toml)")


def standalone_manifest(text: str) -> str:
    """The crate's Cargo.toml for a tree of its own: without the [[test]] targets and the
    [dev-dependencies] (their files are not in the sdist) and with an empty [workspace]."""
    kept: List[str] = []
    skipping = False
    for line in text.splitlines():
        header = re.match(r"\s*\[\[?([A-Za-z0-9_.\-]+)\]\]?\s*$", line)
        if header:
            skipping = line.strip() in ("[[test]]", "[dev-dependencies]", "[workspace]")
            if line.strip() == "[workspace]":
                kept.append("[workspace]")
        if not skipping:
            kept.append(line)
    return "\n".join(kept) + "\n"


def cargo_build(build_temp: str) -> str:
    """Runs cargo; returns the built library's path."""
    root, in_tree = crate_dir()
    cargo = os.environ.get("CARGO", "cargo")
    target_dir = os.path.abspath(os.path.join(build_temp, "cargo-target"))
    # With the PostgreSQL outbox store (`client.outbox("postgresql://...")`).
    command = [cargo, "build", "--release", "--lib", "--features", "postgres", "--manifest-path", os.path.join(root, "Cargo.toml")]
    if in_tree:
        command += ["--locked", "-p", "connect-contact"]
    env = dict(os.environ, CARGO_TARGET_DIR=target_dir)
    print("connect_contact: " + " ".join(command), flush=True)
    try:
        subprocess.run(command, check=True, env=env)
    except FileNotFoundError:
        sys.exit(f"connect_contact: {cargo!r} was not found; install Rust (https://rustup.rs) or set $CARGO")
    except subprocess.CalledProcessError as e:
        sys.exit(f"connect_contact: cargo failed ({e.returncode}); see its output above")
    return os.path.join(target_dir, "release", LIBRARY)


class BuildPyWithLibrary(build_py):
    """build_py, then cargo, then the library copied into the built package."""

    def run(self) -> None:
        super().run()
        build_temp = os.path.join(os.path.dirname(os.path.abspath(self.build_lib)), "temp-connect-contact")
        library = cargo_build(build_temp)
        target = os.path.join(self.build_lib, "connect_contact", LIBRARY)
        shutil.copyfile(library, target)
        os.chmod(target, 0o755)


class SdistWithCrate(sdist):
    """sdist, with the crate copied into rust/ of the archive."""

    def make_release_tree(self, base_dir: str, files: List[str]) -> None:
        super().make_release_tree(base_dir, files)
        root, in_tree = crate_dir()
        rust = os.path.join(base_dir, "rust")
        os.makedirs(rust, exist_ok=True)
        with open(os.path.join(root, "Cargo.toml")) as f:
            manifest = f.read()
        with open(os.path.join(rust, "Cargo.toml"), "w") as f:
            f.write(standalone_manifest(manifest) if in_tree else manifest)
        for name in CRATE_FILES:
            source, dest = os.path.join(root, name), os.path.join(rust, name)
            if os.path.isdir(source):
                shutil.copytree(source, dest, dirs_exist_ok=True)
            else:
                shutil.copyfile(source, dest)


class BinaryDistribution(Distribution):
    def has_ext_modules(self) -> bool:
        return True  # a platform wheel: it carries a Linux shared library


def wheel_command() -> Optional[type]:
    """bdist_wheel tagged py3-none-<platform>: the library is not tied to a Python ABI."""
    try:
        from setuptools.command.bdist_wheel import bdist_wheel
    except ImportError:  # setuptools < 70.1: the `wheel` package's
        try:
            from wheel.bdist_wheel import bdist_wheel  # type: ignore[no-redef]
        except ImportError:
            return None

    class PlatformWheel(bdist_wheel):  # type: ignore[misc,valid-type]
        def get_tag(self) -> Tuple[str, str, str]:
            _, _, platform = super().get_tag()
            return "py3", "none", platform

    return PlatformWheel


commands = {"build_py": BuildPyWithLibrary, "sdist": SdistWithCrate}
if wheel_command() is not None:
    commands["bdist_wheel"] = wheel_command()  # type: ignore[assignment]
setup(cmdclass=commands, distclass=BinaryDistribution)
