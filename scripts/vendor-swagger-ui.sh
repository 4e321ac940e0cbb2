#!/usr/bin/env bash
# Vendor swagger-ui-dist from the npm registry into static/vendor/swagger-ui/,
# so the API docs page (/static/docs/index.html) is served without any CDN.
#
# Usage: scripts/vendor-swagger-ui.sh <version>     e.g. 5.35.0
#        scripts/vendor-swagger-ui.sh 5             (newest 5.x)
#
# Only the files listed in FILES (plus NOTICE when present) are copied; source
# maps and the other bundles are deliberately left out. The tarball is checked
# against the registry's dist.integrity (sha512) before anything is copied, and
# static/vendor/swagger-ui/VERSION records the version, integrity and the
# sha256 of every vendored file.
set -euo pipefail

PKG=swagger-ui-dist
FILES=(swagger-ui-bundle.js swagger-ui.css favicon-32x32.png LICENSE)

if [[ $# -ne 1 || -z "$1" ]]; then
    echo "usage: $0 <swagger-ui-dist version or range, e.g. 5.35.0 or 5>" >&2
    exit 2
fi
SPEC=$1

for tool in npm node tar sha256sum; do
    command -v "$tool" >/dev/null || { echo "error: '$tool' not found" >&2; exit 1; }
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST="$ROOT/static/vendor/swagger-ui"

# Resolve a range ("5") to one exact version (npm prints one line per match
# for ranges, ending with the newest; for an exact version just the version).
VERSION=$(npm view "$PKG@$SPEC" version 2>/dev/null | tail -n 1 | sed -E "s/^.* '([^']+)'$/\1/" || true)
if [[ ! $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
    echo "error: could not resolve $PKG@$SPEC to an exact version (got '$VERSION')" >&2
    exit 1
fi
INTEGRITY=$(npm view "$PKG@$VERSION" dist.integrity 2>/dev/null || true)
if [[ $INTEGRITY != sha512-* ]]; then
    echo "error: no sha512 dist.integrity for $PKG@$VERSION (got '$INTEGRITY')" >&2
    exit 1
fi

WORK=$(mktemp -d)
trap 'rm -rf -- "$WORK"' EXIT

echo "fetching $PKG@$VERSION" >&2
(cd "$WORK" && npm pack --silent "$PKG@$VERSION" >/dev/null)
TARBALL="$WORK/$PKG-$VERSION.tgz"
[[ -f $TARBALL ]] || { echo "error: npm pack did not produce $TARBALL" >&2; exit 1; }

ACTUAL="sha512-$(node -e '
const fs = require("fs"), crypto = require("crypto");
process.stdout.write(crypto.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"));
' "$TARBALL")"
if [[ $ACTUAL != "$INTEGRITY" ]]; then
    echo "error: integrity mismatch for $TARBALL" >&2
    echo "  registry: $INTEGRITY" >&2
    echo "  tarball:  $ACTUAL" >&2
    exit 1
fi

tar -xzf "$TARBALL" -C "$WORK"
SRC="$WORK/package"

COPY=("${FILES[@]}")
[[ -f $SRC/NOTICE ]] && COPY+=(NOTICE)
for f in "${COPY[@]}"; do
    [[ -f $SRC/$f ]] || { echo "error: $f missing from $PKG@$VERSION" >&2; exit 1; }
done

mkdir -p "$DEST"
[[ -f $SRC/NOTICE ]] || rm -f -- "$DEST/NOTICE"
for f in "${COPY[@]}"; do
    install -m 0644 "$SRC/$f" "$DEST/$f"
done

{
    echo "package: $PKG"
    echo "version: $VERSION"
    echo "integrity: $INTEGRITY"
    echo "source: npm pack $PKG@$VERSION (registry.npmjs.org), vendored by scripts/vendor-swagger-ui.sh"
    echo "license: Apache-2.0 (see LICENSE and NOTICE)"
    echo "files (sha256):"
    (cd "$DEST" && sha256sum -- "${COPY[@]}" | sed 's/^/  /')
} > "$DEST/VERSION"

echo "vendored $PKG@$VERSION into ${DEST#"$ROOT"/}:" >&2
ls -l -- "$DEST" >&2
