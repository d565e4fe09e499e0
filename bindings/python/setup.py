"""Ships the built libconnect_contact.so inside the package when one is found.

`cargo build --release` then `pip install ./bindings/python` gives a package that imports with
no environment variable: the library comes from $CONNECT_CONTACT_LIB at build time, else from
the repository's target/release/. The wheel is then platform-specific, as a wheel carrying a
Linux binary must be. With no built library the package stays pure Python and finds the
library at run time (see connect_contact/_lib.py).
"""
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))


def built_library():
    for candidate in (
        os.environ.get("CONNECT_CONTACT_LIB"),
        os.path.join(HERE, "..", "..", "target", "release", "libconnect_contact.so"),
    ):
        if candidate and os.path.isfile(candidate):
            return candidate
    return None


class BuildPyWithLibrary(build_py):
    def run(self):
        super().run()
        library = built_library()
        if library:
            target = os.path.join(self.build_lib, "connect_contact", "libconnect_contact.so")
            shutil.copyfile(library, target)


class MaybeBinaryDistribution(Distribution):
    def has_ext_modules(self):
        return built_library() is not None


setup(cmdclass={"build_py": BuildPyWithLibrary}, distclass=MaybeBinaryDistribution)
