"""scripts/setup.sh on a machine where another process holds the dpkg lock (apt-daily, unattended-upgrades).

apt-get and sudo are stand-ins on PATH that record how they were called: the script must ask apt to wait
for the lock on every call, and say that it waits."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _stub(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


def test_setup_waits_for_the_dpkg_lock(tmp_path: Path) -> None:
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    _stub(bin_dir / "dpkg-query", "exit 1\n")  # nothing installed: the script must call apt-get
    _stub(bin_dir / "sudo", 'exec "$@"\n')
    # the install step fails on purpose, so the script stops before making a virtual environment
    _stub(bin_dir / "apt-get", f'echo "$*" >> {calls}\ncase " $* " in *" install "*) exit 100;; esac\nexit 0\n')
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    r = subprocess.run(
        ["bash", str(ROOT / "scripts/setup.sh"), "demo"], env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 100
    lines = calls.read_text().splitlines()
    assert len(lines) == 2 and " update " in f" {lines[0]} " and " install " in f" {lines[1]} ", lines
    assert all("DPkg::Lock::Timeout=600" in line for line in lines), lines
    assert "khóa dpkg" in r.stdout
