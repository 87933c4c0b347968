#!/usr/bin/env bash
# Install the browser the end-to-end test drives: Debian's `chromium` at /usr/bin/chromium (idempotent).
# Playwright is told to use it (executable_path), so `playwright install` and its browser download never run.
set -euo pipefail

BROWSER=/usr/bin/chromium
if [[ -x "$BROWSER" ]]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_browser.sh: $BROWSER is missing and this system has no apt-get." >&2
  echo "  Install Chromium with your package manager so that $BROWSER exists, then re-run the tests." >&2
  exit 1
fi

if [[ "$(id -u)" -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "install_browser.sh: $BROWSER is missing, and installing it needs root." >&2
  echo "  Run:  sudo apt-get install -y chromium   (then re-run the tests)" >&2
  exit 1
fi

echo "install_browser.sh: installing Debian's chromium (once; the browser test needs it)..." >&2
export DEBIAN_FRONTEND=noninteractive
if ! "${SUDO[@]}" apt-get install -y chromium >/dev/null; then
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y chromium >/dev/null
fi

if [[ ! -x "$BROWSER" ]]; then
  echo "install_browser.sh: apt-get installed chromium, but $BROWSER is still missing." >&2
  exit 1
fi
echo "install_browser.sh: $("$BROWSER" --version 2>/dev/null || echo chromium) ready at $BROWSER" >&2
