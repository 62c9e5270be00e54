"""The production compose file parses (validated offline by Debian's docker-compose)."""

from __future__ import annotations

import os
import shutil
import subprocess

from tests.conftest import ROOT


def test_compose_file_is_valid():
    tool = shutil.which("docker-compose")
    assert tool, "docker-compose (Debian package) is installed by scripts/test.sh"
    done = subprocess.run([tool, "config"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "SECRET_KEY": "compose-check"}, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    for service in ("web:", "worker:", "scheduler:", "db:", "redis:", "migrate:"):
        assert service in done.stdout
    assert "service:create_app()" in done.stdout and "workers.worker" in done.stdout
