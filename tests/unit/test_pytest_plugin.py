"""The pytest plugin is loaded in every pytest run where CareLedger is installed: it must stay light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = '''
import sys


def test_plugin_loaded_without_grpc(pytestconfig):
    assert pytestconfig.pluginmanager.has_plugin("careledger")
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("grpc", "google", "careledger")
                   and m not in ("careledger", "careledger.network", "careledger.network.local",
                                 "careledger.network.local.pytest_plugin"))
    assert heavy == []
'''


def test_importing_the_plugin_does_not_import_grpc() -> None:
    code = ("import sys, careledger.network.local.pytest_plugin; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('grpc', 'google')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_pytest_run_that_uses_no_fixture_imports_no_grpc(tmp_path: Path) -> None:
    (tmp_path / "test_probe.py").write_text(PROBE)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
