"""The package's version: one place, read by pyproject.toml (``dynamic``), ``__version__``,
and the loader, which derives the library's soname from it and refuses a library of
another version. tests/it/python_binding.rs checks both against the Rust crate."""

__version__ = "0.1.0"


def soname(version: str = __version__) -> str:
    """The shared library's soname for ``version``, by CHANGELOG.md's ABI policy (the rule
    build.rs applies): ``libconnect_contact.so.0.MINOR`` before 1.0, ``.so.MAJOR`` after."""
    major, minor = version.split(".")[:2]
    abi = f"0.{minor}" if major == "0" else major
    return f"libconnect_contact.so.{abi}"
