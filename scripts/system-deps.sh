#!/usr/bin/env bash
# Installs the Debian packages Alta needs beyond Python and Node, only those that are missing:
#   scripts/system-deps.sh run    Tesseract OCR with Spanish data, DejaVu fonts (translation PDFs),
#                                 Apertium with its Spanish->English pair (the translation floor)
#   scripts/system-deps.sh test   the same, and Chromium for the browser tests (Playwright drives it)
# It needs root (or sudo) for apt-get; without either it prints the command to run and fails.
set -euo pipefail

want=()
command -v tesseract >/dev/null && tesseract --list-langs 2>/dev/null | grep -x spa >/dev/null || want+=(tesseract-ocr tesseract-ocr-spa)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] && [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ] \
  || want+=(fonts-dejavu-core)
# The rule-based translation engine that is always there (backend/engines/apertium.py, mode spa-eng).
command -v apertium >/dev/null && apertium -l 2>/dev/null | grep -E '^[[:space:]]*spa-eng$' >/dev/null || want+=(apertium apertium-eng-spa)
if [ "${1:-run}" = test ]; then
  [ -x /usr/bin/chromium ] || want+=(chromium)
fi
[ ${#want[@]} -eq 0 ] && exit 0

SUDO=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null; then SUDO=(sudo); else
    echo "Alta needs these Debian packages: ${want[*]}" >&2
    echo "install them as root: apt-get install -y ${want[*]}" >&2
    exit 1
  fi
fi
echo "installing Debian packages: ${want[*]}" >&2
"${SUDO[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
