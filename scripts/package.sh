#!/usr/bin/env bash
# Build the Debian package (for sites that install from files): the release binary, a man page
# per command, the bash, zsh and fish completions, README and CHANGELOG, with cargo-deb.
# Usage: bash scripts/package.sh   ->  prints the path of target/debian/ocislim_<version>_<arch>.deb
# Needs cargo-deb (`cargo install cargo-deb --locked`) and dpkg-dev.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-deb >/dev/null || {
    echo "package.sh: cargo-deb is missing: cargo install cargo-deb --locked" >&2
    exit 1
}
cargo build --release --locked --quiet
bin=target/release/ocislim
assets=target/deb-assets
rm -rf "$assets"
mkdir -p "$assets/man" "$assets/completions"
"$bin" man "$assets/man"
gzip -9n "$assets"/man/*.1
"$bin" completions bash >"$assets/completions/ocislim.bash"
"$bin" completions zsh >"$assets/completions/_ocislim"
"$bin" completions fish >"$assets/completions/ocislim.fish"
# Stripped: the release profile keeps line tables for profiling, which users do not need.
cargo deb --no-build --locked --quiet --strip
