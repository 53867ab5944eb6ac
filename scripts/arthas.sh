#!/usr/bin/env bash
# Fetches real Arthas (its agent, core and the math-game demo: Maven Central's
# com.taobao.arthas:arthas-packaging, type zip, classifier bin) for the golden harness
# (tests/test_golden.py), which drives it and a pyarthas demo with the same requests.
# Idempotent and cached: a second run only prints the folder.
# Where: $PYARTHAS_ARTHAS_HOME, else ${XDG_CACHE_HOME:-~/.cache}/pyarthas/arthas-$VERSION.
# Exit status 0 with the folder on stdout; otherwise the reason on stderr (and in HOME/unavailable),
# which the harness shows when it skips.
set -euo pipefail

VERSION="${PYARTHAS_ARTHAS_VERSION:-4.1.5}"
HOME_DIR="${PYARTHAS_ARTHAS_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/pyarthas/arthas-$VERSION}"
ARTIFACT="com.taobao.arthas:arthas-packaging:$VERSION:zip:bin"

say() { echo "arthas: $*" >&2; }
fail() {
    mkdir -p "$HOME_DIR" 2>/dev/null && echo "$*" > "$HOME_DIR/unavailable" 2>/dev/null || true
    say "$*"
    exit 1
}
complete() { [ -f "$1/arthas-agent.jar" ] && [ -f "$1/arthas-core.jar" ] && [ -f "$1/math-game.jar" ]; }

if complete "$HOME_DIR"; then
    rm -f "$HOME_DIR/unavailable"
    echo "$HOME_DIR"
    exit 0
fi
command -v java >/dev/null || fail "java is not installed (Arthas needs a JDK, 8 or newer)"
command -v mvn >/dev/null || fail "mvn is not installed (it fetches $ARTIFACT from Maven Central)"
command -v unzip >/dev/null || command -v python3 >/dev/null || fail "neither unzip nor python3 to unpack the zip"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
say "fetching $ARTIFACT"
# dependency:copy puts the one artifact in a folder of ours (and in Maven's local repository, its cache)
mvn -q -B "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy" -Dartifact="$ARTIFACT" \
    -DoutputDirectory="$WORK" -Dmdep.stripVersion=true >"$WORK/mvn.log" 2>&1 \
    || fail "mvn could not fetch $ARTIFACT: $(grep -m1 -E 'ERROR' "$WORK/mvn.log" || tail -n 1 "$WORK/mvn.log")"
ZIP="$(ls "$WORK"/*.zip 2>/dev/null | head -n 1)"
[ -n "$ZIP" ] || fail "mvn reported success but left no zip in $WORK"

rm -rf "$HOME_DIR.tmp"
mkdir -p "$HOME_DIR.tmp"
if command -v unzip >/dev/null; then
    unzip -q -o "$ZIP" -d "$HOME_DIR.tmp" || fail "unzip failed on $ZIP"
else
    python3 -m zipfile -e "$ZIP" "$HOME_DIR.tmp" || fail "python3 -m zipfile failed on $ZIP"
fi
complete "$HOME_DIR.tmp" || fail "the zip of $ARTIFACT lacks arthas-agent.jar, arthas-core.jar or math-game.jar"
rm -rf "$HOME_DIR"
mv "$HOME_DIR.tmp" "$HOME_DIR"
say "installed Arthas $VERSION"
echo "$HOME_DIR"
