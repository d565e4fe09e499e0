#!/bin/sh
# Installs connect-contact for C and C++ projects:
#
#   scripts/install.sh [--prefix DIR] [--libdir NAME] [--destdir DIR] [--from DIR]
#
#   --prefix DIR   where it goes (default /usr/local)
#   --libdir NAME  library directory under the prefix (default lib)
#   --destdir DIR  stage into DIR/PREFIX instead (for packagers); paths inside still say PREFIX
#   --from DIR     take libconnect_contact.so and .a from DIR instead of building; by default
#                  it runs `cargo build --release --locked` and takes them from target/release
#
# Installs PREFIX/LIBDIR/libconnect_contact.so.X.Y.Z with the soname link (.so.0.Y before 1.0,
# .so.X from 1.0 on: CHANGELOG.md's ABI policy) and the .so link,
# libconnect_contact.a, PREFIX/include/connect_contact.h and connect_contact.hpp,
# PREFIX/LIBDIR/pkgconfig/connect_contact.pc and
# PREFIX/LIBDIR/cmake/ConnectContact/ConnectContactConfig.cmake (+ ConfigVersion.cmake).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
prefix=/usr/local
libdir=lib
destdir=
from=

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --libdir) libdir=${2:?--libdir needs a name}; shift 2 ;;
    --destdir) destdir=${2:?--destdir needs a directory}; shift 2 ;;
    --from) from=${2:?--from needs a directory}; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$prefix" in /*) ;; *) echo "install.sh: --prefix must be an absolute path" >&2; exit 2 ;; esac
case "$libdir" in /*|*..*) echo "install.sh: --libdir must be a relative path like lib or lib64" >&2; exit 2 ;; esac

# The version comes from Cargo.toml's [package] section: the first `version = "..."` line.
version=$(sed -n 's/^version = "\([0-9][0-9.]*\)".*/\1/p' "$root/Cargo.toml" | head -n 1)
[ -n "$version" ] || { echo "install.sh: no version in Cargo.toml" >&2; exit 1; }
major=${version%%.*}
minor=${version#*.}; minor=${minor%%.*}
# The soname rule is build.rs's; tests/it/install.rs checks the link this makes against it.
if [ "$major" = 0 ]; then abi="0.$minor"; else abi="$major"; fi

if [ -z "$from" ]; then
  (cd "$root" && cargo build --release --locked)
  from=${CARGO_TARGET_DIR:-$root/target}/release
fi
for f in libconnect_contact.so libconnect_contact.a; do
  [ -f "$from/$f" ] || { echo "install.sh: $from/$f is missing (build first, or fix --from)" >&2; exit 1; }
done

# From LIBDIR/cmake/ConnectContact back up to the prefix: one ../ per directory level.
cmake_to_prefix=../..
rest=$libdir
while [ -n "$rest" ]; do
  cmake_to_prefix=$cmake_to_prefix/..
  case "$rest" in */*) rest=${rest#*/} ;; *) rest= ;; esac
done

dest=$destdir$prefix
install -d "$dest/$libdir/pkgconfig" "$dest/$libdir/cmake/ConnectContact" "$dest/include"
install -m 755 "$from/libconnect_contact.so" "$dest/$libdir/libconnect_contact.so.$version"
ln -sf "libconnect_contact.so.$version" "$dest/$libdir/libconnect_contact.so.$abi"
ln -sf "libconnect_contact.so.$abi" "$dest/$libdir/libconnect_contact.so"
install -m 644 "$from/libconnect_contact.a" "$dest/$libdir/libconnect_contact.a"
install -m 644 "$root/include/connect_contact.h" "$root/include/connect_contact.hpp" "$dest/include/"

fill() {
  sed -e "s|@PREFIX@|$prefix|g" -e "s|@LIBDIR@|$libdir|g" -e "s|@VERSION@|$version|g" \
      -e "s|@MAJOR@|$major|g" -e "s|@MINOR@|$minor|g" -e "s|@CMAKE_TO_PREFIX@|$cmake_to_prefix|g" \
      "$root/packaging/$1.in" > "$2"
  chmod 644 "$2"
}
fill connect_contact.pc "$dest/$libdir/pkgconfig/connect_contact.pc"
fill ConnectContactConfig.cmake "$dest/$libdir/cmake/ConnectContact/ConnectContactConfig.cmake"
fill ConnectContactConfigVersion.cmake "$dest/$libdir/cmake/ConnectContact/ConnectContactConfigVersion.cmake"

echo "installed connect-contact $version into $dest"
