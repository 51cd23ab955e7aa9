#!/usr/bin/env bash
# Packages every crate meant for crates.io, in dependency order, and builds each from its
# package alone (cargo's verification: only what the package holds, its dependencies resolved as
# crates.io would, the workspace's own crates from the packages made before it).
#
#   scripts/package.sh            # verify (builds each package; minutes)
#   PACKAGE_VERIFY=0 scripts/package.sh   # list and check the packages only (seconds)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Dependency order; kyc-bench and kyc-tests are not published.
CRATES=(kyc-core kyc-adapter kyc-mock kyc-ureq kyc-reqwest kyc-axum kyc-track kyc-cli)
# Cargo verifies a package against the packages made before it through a temporary registry in
# target/package, and unpacks them into its home's registry/src under a name derived from that
# folder; it takes a registry crate of a given version as never changing. So an earlier run from
# the same folder leaves copies that a second run uses as they are (unpacked sources, and their
# builds in target/debug): a package is then built against an older copy of its sibling (seen
# when a signature changed between two runs in one clone). Both are caches: drop ours first (the
# workspace's own builds of our crates go with them, and are redone by the next build).
for stale in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do
    for crate in "${CRATES[@]}"; do
        rm -rf "$stale$crate"-[0-9]*
    done
done
TARGET="$(cargo metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
rm -rf "${TARGET:-$ROOT/target}"/debug/.fingerprint/kyc-*
args=()
for crate in "${CRATES[@]}"; do args+=(-p "$crate"); done
[ "${PACKAGE_VERIFY:-1}" = 0 ] && args+=(--no-verify)
cargo package --locked "${args[@]}"
for crate in "${CRATES[@]}"; do
    version=$(cargo metadata --format-version 1 --no-deps |
        sed -n "s/.*\"name\":\"$crate\",\"version\":\"\([^\"]*\)\".*/\1/p")
    file="target/package/$crate-$version.crate"
    [ -f "$file" ] || { echo "package.sh: $file was not made" >&2; exit 1; }
    echo "$crate $version: $(du -k "$file" | cut -f1) KiB"
done
