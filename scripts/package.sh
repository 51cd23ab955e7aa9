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
