"""Finding the library, and a clean interpreter exit with clients still open (subprocesses)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from typing import Dict, Optional

import connect_contact
import connect_contact._version
from connect_contact import _lib

PACKAGE_DIR = os.path.dirname(connect_contact.__file__)
LIBRARY = _lib.lib()._name  # the .so this test run uses

# The files the dynamic loader mapped into a process whose name is libconnect_contact.so*:
# what was really loaded, whatever name ctypes was given. The subprocesses run the same source.
MAPPED_SOURCE = """
def mapped_libraries():
    with open("/proc/self/maps") as maps:
        fields = [line.split(None, 5) for line in maps]
    return sorted({f[5].strip() for f in fields if len(f) == 6 and "/libconnect_contact.so" in f[5]})
"""
exec(MAPPED_SOURCE)  # defines mapped_libraries() in this module


def run_python(code: str, pythonpath: str, library: Optional[str]) -> subprocess.CompletedProcess[str]:
    env: Dict[str, str] = {k: v for k, v in os.environ.items() if k not in ("CONNECT_CONTACT_LIB", "LD_LIBRARY_PATH")}
    env["PYTHONPATH"] = pythonpath
    if library is not None:
        env["CONNECT_CONTACT_LIB"] = library
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, cwd=tempfile.gettempdir()
    )


class LoadingTest(unittest.TestCase):
    def test_import_error_lists_every_place_tried(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            not_a_library = os.path.join(tmp, "libconnect_contact.so")
            with open(not_a_library, "w") as f:
                f.write("not an ELF file\n" * 100)
            for library, reason in (
                (os.path.join(tmp, "missing", "libconnect_contact.so"), "no such file"),
                (not_a_library, "invalid ELF header"),
            ):
                with self.subTest(reason):
                    out = run_python("import connect_contact", os.path.dirname(PACKAGE_DIR), library)
                    self.assertNotEqual(out.returncode, 0)
                    self.assertIn("ImportError: connect_contact could not load libconnect_contact. Tried, in order:", out.stderr)
                    self.assertIn(f"$CONNECT_CONTACT_LIB: {library}: ", out.stderr)
                    self.assertIn(reason, out.stderr)
                    for place in ("the package directory", "the system loader: libconnect_contact.so.0."):
                        self.assertIn(place, out.stderr)

    def test_a_copy_inside_the_package_is_found(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            package = os.path.join(tmp, "connect_contact")
            shutil.copytree(PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
            shutil.copy(LIBRARY, os.path.join(package, "libconnect_contact.so"))
            out = run_python(MAPPED_SOURCE + "import connect_contact\nprint(mapped_libraries())", tmp, None)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(out.stdout.strip(), repr([os.path.join(package, "libconnect_contact.so")]))

    def test_the_library_loaded_is_the_one_this_run_built(self) -> None:
        # The runner (tests/it/python_binding.rs) names the cdylib cargo built for this run; the
        # process must have mapped exactly that file, not a copy in the package or elsewhere.
        wanted = os.environ.get("CONNECT_CONTACT_LIB")
        self.assertTrue(wanted, "the runner sets CONNECT_CONTACT_LIB")
        self.assertEqual(mapped_libraries(), [os.path.realpath(wanted or "")])  # type: ignore[name-defined]  # noqa: F821

    def test_the_packaged_library_wins_over_the_environment(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            package = os.path.join(tmp, "connect_contact")
            shutil.copytree(PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
            shutil.copy(LIBRARY, os.path.join(package, "libconnect_contact.so"))
            out = run_python("import connect_contact._lib as l; print(l.lib()._name)", tmp, "/nonexistent/lib.so")
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(out.stdout.strip(), os.path.join(package, "libconnect_contact.so"))

    def test_a_library_of_another_version_is_refused(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            package = os.path.join(tmp, "connect_contact")
            shutil.copytree(PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
            version_file = os.path.join(package, "_version.py")
            with open(version_file) as f:
                text = f.read()
            with open(version_file, "w") as f:
                f.write(text.replace(f'__version__ = "{connect_contact._version.__version__}"', '__version__ = "0.99.0"'))
            out = run_python("import connect_contact", tmp, LIBRARY)
            self.assertNotEqual(out.returncode, 0)
            self.assertIn(
                f"ImportError: connect_contact 0.99.0 found libconnect_contact {connect_contact.version()} at {LIBRARY}",
                out.stderr,
            )
            self.assertIn("the versions must match", out.stderr)

    def test_soname_rule(self) -> None:
        from connect_contact._version import soname

        self.assertEqual(soname("0.1.0"), "libconnect_contact.so.0.1")
        self.assertEqual(soname("0.12.3"), "libconnect_contact.so.0.12")
        self.assertEqual(soname("1.4.2"), "libconnect_contact.so.1")
        self.assertEqual(soname("2.0.0"), "libconnect_contact.so.2")

    def test_open_clients_at_interpreter_exit(self) -> None:
        # A client kept in a module global, one in a reference cycle, one half-built:
        # __del__ runs during shutdown, when module globals may already be gone.
        code = "\n".join(
            [
                "import connect_contact",
                "kw = dict(region_name='us-east-1', endpoint_url='http://127.0.0.1:9',",
                "          aws_access_key_id='a', aws_secret_access_key='b')",
                "kept = connect_contact.Client(**kw)",
                "cycle = connect_contact.Client(**kw); cycle.me = cycle; del cycle",
                "try:",
                "    connect_contact.Client(profile_name='x', **kw)",
                "except connect_contact.InvalidConfigError:",
                "    pass",
                "print('done')",
            ]
        )
        out = run_python(code, os.path.dirname(PACKAGE_DIR), LIBRARY)
        self.assertEqual((out.returncode, out.stdout.strip(), out.stderr), (0, "done", ""))


if __name__ == "__main__":
    unittest.main()
