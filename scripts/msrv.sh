#!/usr/bin/env bash
# Checks every target of the workspace (libraries, binaries, tests, benches, examples) with the
# exact toolchain `rust-version` names (1.85), so that the promise in Cargo.toml is checked, not
# assumed. `cargo check`, not `cargo test`: what the promise is about (the language and standard
# library the code uses) is decided by type-checking; building and running the suite a second
# time with an older compiler cost CI 9-10 minutes (of 20) to learn nothing the check does not.
#
#   scripts/msrv.sh
#
# The toolchain is Debian's rustc-web and cargo-web packages (1.85.0+dfsg3-1~deb12u3 on bookworm),
# installed with apt-get at that version when missing (bookworm-security carries newer ones); they
# live in /usr/bin beside rustup's proxies in ~/.cargo/bin, and are called by full path. The check
# goes to target/msrv so that it does not disturb the main toolchain's artefacts.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

WANT="$(sed -n 's/^rust-version = "\([0-9.]*\)"/\1/p' Cargo.toml | head -n 1)"
RUSTC=/usr/bin/rustc
CARGO=/usr/bin/cargo

have() { [ -x "$RUSTC" ] && [ -x "$CARGO" ] && "$RUSTC" --version | grep -q "^rustc $WANT\."; }

if ! have; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -q >&2
    # bookworm-security ships newer rustc-web releases (1.96 since 2026-12) beside bookworm's
    # 1.85: pin the package version that is $WANT, with the standard library of that version.
    VERSION="$(apt-cache madison rustc-web | awk -v want="$WANT." '{ if (index($3, want) == 1) { print $3; exit } }')"
    if [ -z "$VERSION" ]; then
        echo "msrv: no rustc-web $WANT package in the configured Debian archives" >&2
        exit 1
    fi
    echo "== installing Debian's rustc-web and cargo-web $VERSION" >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --allow-downgrades \
        "rustc-web=$VERSION" "cargo-web=$VERSION" "libstd-rust-web-dev=$VERSION" >&2
fi
if ! have; then
    echo "msrv: $RUSTC is $("$RUSTC" --version 2>&1), not $WANT" >&2
    exit 1
fi

echo "== $("$RUSTC" --version), $("$CARGO" --version): cargo check --workspace --all-targets --locked" >&2
RUSTC="$RUSTC" RUSTDOC=/usr/bin/rustdoc "$CARGO" check --workspace --all-targets --locked \
    --target-dir "$ROOT/target/msrv"
