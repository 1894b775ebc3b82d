#!/usr/bin/env bash
# The system packages the tests need, installed with apt-get only when missing:
#   postgresql  the store's concurrency tests run a throwaway cluster (tests/pgserver.py)
#   chromium    the gateway's browser tests
# As root it runs apt-get itself; otherwise through sudo when there is one. With
# neither, it names what is missing and the command to run, and fails.
set -euo pipefail

missing=()
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
    missing+=(postgresql)
fi
if ! command -v chromium >/dev/null 2>&1; then
    missing+=(chromium)
fi

if [ "${#missing[@]}" -eq 0 ]; then
    echo "system-deps: postgresql and chromium are present; nothing to install."
    exit 0
fi

packages="${missing[*]}"
command_line="apt-get update && apt-get install -y --no-install-recommends $packages"

if ! command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: missing $packages, and there is no apt-get here (this script knows" \
        "Debian and Ubuntu): install $packages with your system's package manager." >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    echo "system-deps: missing $packages, and installing needs root (there is no sudo):" \
        "as root, run: $command_line" >&2
    exit 1
fi

log="$(mktemp "${TMPDIR:-/tmp}/system-deps.XXXXXX")"
trap 'rm -f "$log"' EXIT
echo "system-deps: installing $packages with apt-get (a minute or two)..." >&2
# ${as_root[@]+...}: an empty array under `set -u` on older bash.
if ! ${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive \
    apt-get update >"$log" 2>&1 ||
    ! ${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
    tail -n 20 "$log" >&2
    echo "system-deps: apt-get could not install $packages (its output is above):" \
        "fix that, or run: $command_line" >&2
    exit 1
fi

if [[ " $packages " == *" postgresql "* ]] &&
    ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
    echo "system-deps: postgresql installed, but no /usr/lib/postgresql/*/bin/initdb." >&2
    exit 1
fi
if [[ " $packages " == *" chromium "* ]] && ! command -v chromium >/dev/null 2>&1; then
    echo "system-deps: chromium installed, but there is no \`chromium\` command." >&2
    exit 1
fi
echo "system-deps: installed $packages."
