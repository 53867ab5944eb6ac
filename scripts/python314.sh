#!/usr/bin/env bash
# Installs CPython 3.14 for the test matrix, from Debian's unstable suite (sid) into a private folder,
# and prints the interpreter's path. pyenv here stops at 3.13 and sid's python3.14 needs a newer C
# library than the system's, so nothing goes into the system:
#   - a separate apt configuration (own sources list, package lists and cache) for `apt-get download`:
#     the system's package lists and dpkg database are only read, never written;
#   - `dpkg -x` of the interpreter and the libraries it needs (sid's C library too) into one prefix;
#   - patchelf points the interpreter at that prefix's loader, with a DT_RPATH (not RUNPATH) so that the
#     extension modules in lib-dynload find the prefix's libraries as well.
# Idempotent and cached: a second run finds the interpreter and only prints its path.
# Where: $PYARTHAS_PYTHON314_HOME, else ${XDG_CACHE_HOME:-~/.cache}/pyarthas/python3.14.
# The archive: the Debian mirror the system's apt already uses, or $PYARTHAS_DEBIAN_MIRROR.
# Exit status 0 with the path on stdout; otherwise the reason on stderr (and in HOME/unavailable).
set -euo pipefail

HOME_DIR="${PYARTHAS_PYTHON314_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/pyarthas/python3.14}"
PREFIX="$HOME_DIR/prefix"
PYTHON="$PREFIX/usr/bin/python3.14"
LIBDIR="$PREFIX/usr/lib/x86_64-linux-gnu"
PACKAGES=(python3.14 python3.14-minimal libpython3.14-minimal libpython3.14-stdlib libc6 libexpat1 zlib1g
          libssl3t64 libffi8 libbz2-1.0 liblzma5 libmpdec4 libsqlite3-0 libuuid1 libzstd1 libncursesw6
          libtinfo6 libreadline8t64 libgcc-s1 libstdc++6 libcrypt1 libtirpc3t64 libnsl2 libdb5.3t64)

say() { echo "python3.14: $*" >&2; }
fail() {
    mkdir -p "$HOME_DIR" 2>/dev/null && echo "$*" > "$HOME_DIR/unavailable" 2>/dev/null || true
    say "$*"
    exit 1
}
works() { "$1" -c 'import sys, ssl, sqlite3, ctypes, asyncio; assert sys.version_info[:2] == (3, 14)' 2>/dev/null; }

if [ -x "$PYTHON" ] && works "$PYTHON"; then
    rm -f "$HOME_DIR/unavailable"
    echo "$PYTHON"
    exit 0
fi
[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || fail "only Linux x86-64 is provided for (this is $(uname -sm))"
command -v apt-get >/dev/null && command -v dpkg >/dev/null || fail "apt-get and dpkg are needed (a Debian system)"

mirror() {
    # the first Debian archive (not debian-security) among the system's sources
    if [ -n "${PYARTHAS_DEBIAN_MIRROR:-}" ]; then echo "$PYARTHAS_DEBIAN_MIRROR"; return; fi
    cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
        | grep -v '^\s*#' | grep -oE '(https?|mirror\+https?)://[^ ]+/debian/?(\s|$)' | head -n 1 | tr -d ' \t' || true
}
MIRROR="$(mirror)"
[ -n "$MIRROR" ] || fail "no Debian archive among the system's apt sources (set PYARTHAS_DEBIAN_MIRROR)"

APT_DIR="$HOME_DIR/apt"
mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial" "$HOME_DIR/debs"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
SIGNED=""
[ -r "$KEYRING" ] && SIGNED="[signed-by=$KEYRING] "
# without a patchelf here, the system's own suite too, for one that runs on the system (sid's patchelf,
# 0.18, makes this non-PIE executable crash)
CODENAME="$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")"
WANTED=("${PACKAGES[@]}")
echo "deb $SIGNED$MIRROR sid main" > "$APT_DIR/sources.list"
if ! command -v patchelf >/dev/null; then
    [ -n "$CODENAME" ] || fail "patchelf is missing and the system's Debian suite is unknown"
    [ "$CODENAME" = sid ] || echo "deb $SIGNED$MIRROR $CODENAME main" >> "$APT_DIR/sources.list"
    WANTED+=("patchelf/$CODENAME")
fi
APT=(apt-get -q -o "Dir::Etc::sourcelist=$APT_DIR/sources.list" -o Dir::Etc::sourceparts=/dev/null
     -o "Dir::State::Lists=$APT_DIR/lists" -o "Dir::Cache=$APT_DIR/cache" -o Dir::Etc::preferencesparts=/dev/null
     -o APT::Sandbox::User=root -o APT::Architecture=amd64 -o APT::Architectures::=amd64)

say "fetching the package lists of Debian's sid suite (private apt configuration)"
# apt-get update exits 0 when a source cannot be fetched: look for sid's lists instead
"${APT[@]}" update >"$APT_DIR/update.log" 2>&1 || true
first_error() { grep -E '^(E|W|Err):' "$1" | head -n 1; }
compgen -G "$APT_DIR/lists/*_dists_sid_main_binary-amd64_Packages*" >/dev/null \
    || fail "apt-get update of sid failed (see $APT_DIR/update.log): $(first_error "$APT_DIR/update.log")"

say "downloading ${#WANTED[@]} packages"
(cd "$HOME_DIR/debs" && rm -f ./*.deb && "${APT[@]}" download "${WANTED[@]}" >"$APT_DIR/download.log" 2>&1) \
    || fail "the sid archive does not serve CPython 3.14 any more (see $APT_DIR/download.log):" \
            "$(first_error "$APT_DIR/download.log")"

say "unpacking into $PREFIX"
rm -rf "$PREFIX.tmp"
mkdir -p "$PREFIX.tmp"
for deb in "$HOME_DIR"/debs/*.deb; do
    dpkg -x "$deb" "$PREFIX.tmp"
done
PATCHELF="$(command -v patchelf || echo "$PREFIX.tmp/usr/bin/patchelf")"
# the final paths: the prefix is renamed into place below
"$PATCHELF" --set-interpreter "$LIBDIR/ld-linux-x86-64.so.2" --force-rpath --set-rpath "$LIBDIR" \
    "$PREFIX.tmp/usr/bin/python3.14" || fail "patchelf failed on python3.14"
rm -rf "$PREFIX" "$HOME_DIR/debs"
mv "$PREFIX.tmp" "$PREFIX"
works "$PYTHON" || fail "the installed $PYTHON does not run: $("$PYTHON" -c 'import ssl' 2>&1 | tail -n 1)"
# Debian compiles the standard library at install time (py3compile in postinst, which dpkg -x skips); without
# it every import compiles from source where PYTHONDONTWRITEBYTECODE is set
"$PYTHON" -m compileall -q -j 0 "$PREFIX/usr/lib/python3.14" >/dev/null 2>&1 || true
rm -rf "$HOME_DIR/unavailable" "$APT_DIR/lists" "$APT_DIR/cache"
say "installed $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
echo "$PYTHON"
