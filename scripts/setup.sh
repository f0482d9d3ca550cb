#!/usr/bin/env bash
# Installs everything the product needs on a fresh Debian machine, then runs one job:
#   scripts/setup.sh demo   the demo: prints sheets, fills a sample stack, scans it into SQLite, serves the web app
#   scripts/setup.sh test   the whole test suite (starts its own PostgreSQL and Redis on loopback)
# Safe to run again: what is already installed is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
job="${1:-demo}"

need_pkgs=(python3 python3-venv python3-pip poppler-utils)
if [ "$job" = test ]; then
  need_pkgs+=(postgresql redis-server chromium libzbar0 libtiff-tools)  # tiffcp: TIFF variants in tests/test_sources.py
fi
missing=()
for p in "${need_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "Cài gói hệ thống: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  # A freshly booted machine often has apt-daily or unattended-upgrades holding the dpkg lock:
  # wait for it (up to 10 minutes) instead of failing at once.
  APT_WAIT=(-o DPkg::Lock::Timeout=600)
  echo "(Nếu một tiến trình khác đang giữ khóa dpkg, chờ nó xong, tối đa 10 phút.)"
  $SUDO apt-get "${APT_WAIT[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${APT_WAIT[@]}" install -y -qq "${missing[@]}" >/dev/null
fi

# Python 3.11+ from PATH (Debian 12's python3 is 3.11)
PY="$(command -v python3.11 || command -v python3)"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".[test]"
# the test bench's second source of scan damage; --no-deps: it asks for opencv-python, whose cv2 would
# replace opencv-python-headless's (its real needs are in the test extra)
.venv/bin/python -m pip install -q --no-deps "augraphy==8.2.6"
export PATH="$PWD/.venv/bin:$PATH"

case "$job" in
  demo)
    exec omr demo "${@:2}"
    ;;
  test)
    ruff check .
    mypy  # omr/ and web/, with pyproject.toml's settings
    # -n 2: both cores; the browser and server tests start their own processes on loopback
    exec python -m pytest -n 2 --dist loadgroup "${@:2}"
    ;;
  *)
    echo "dùng: scripts/setup.sh demo|test" >&2
    exit 2
    ;;
esac
