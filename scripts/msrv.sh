#!/usr/bin/env bash
# Builds and tests the workspace with the exact toolchain `rust-version` names (1.85), so that the
# promise in Cargo.toml is checked, not assumed.
#
#   scripts/msrv.sh
#
# The toolchain is Debian's rustc-web and cargo-web packages (1.85.0+dfsg3-1~deb12u3 on bookworm),
# installed with apt-get when missing; they live in /usr/bin beside rustup's proxies in
# ~/.cargo/bin, and are called by full path. The build goes to target/msrv so that it does not
# disturb the main toolchain's artefacts.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

WANT="$(sed -n 's/^rust-version = "\([0-9.]*\)"/\1/p' Cargo.toml | head -n 1)"
RUSTC=/usr/bin/rustc
CARGO=/usr/bin/cargo

have() { [ -x "$RUSTC" ] && [ -x "$CARGO" ] && "$RUSTC" --version | grep -q "^rustc $WANT\."; }

if ! have; then
    echo "== installing Debian's rustc-web and cargo-web ($WANT)" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q rustc-web cargo-web >&2
fi
if ! have; then
    echo "msrv: $RUSTC is $("$RUSTC" --version 2>&1), not $WANT" >&2
    exit 1
fi

echo "== $("$RUSTC" --version), $("$CARGO" --version): cargo test --workspace --locked" >&2
RUSTC="$RUSTC" RUSTDOC=/usr/bin/rustdoc "$CARGO" test --workspace --locked --target-dir "$ROOT/target/msrv"
