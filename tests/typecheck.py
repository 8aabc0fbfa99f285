"""Type-check the installed package with mypy, by its import names (careledger.gateway, ...).

The folders (gateway/, network/, proto/careledger/protos/, ...) are not laid out as the import names,
which pyproject's [tool.setuptools.package-dir] maps, and mypy cannot follow an editable install.
So this lays out a throwaway tree in a temporary folder, careledger/<name> a symlink to each mapped
folder (read from pyproject, so it never drifts), and runs mypy on every package there with the
[tool.mypy] settings of pyproject. Errors are reported at the real paths of the repository.

Run: .venv/bin/python tests/typecheck.py [extra mypy arguments]; exits non-zero on any error.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"


def package_dirs() -> dict[str, Path]:
    """Import name -> folder, as pyproject's [tool.setuptools.package-dir] maps them."""
    tool = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["setuptools"]
    return {name: ROOT / folder for name, folder in tool["package-dir"].items()}


def lay_out(tree: Path, packages: dict[str, Path]) -> None:
    """Make tree/a/b a symlink to the folder of package a.b, for every mapped package."""
    for name, folder in packages.items():
        link = tree.joinpath(*name.split("."))
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(folder, target_is_directory=True)


def main(argv: list[str]) -> int:
    packages = package_dirs()
    with tempfile.TemporaryDirectory(prefix="careledger-typecheck-") as tmp:
        tree = Path(tmp).resolve()
        lay_out(tree, packages)
        command = [
            sys.executable, "-m", "mypy",
            "--config-file", str(PYPROJECT),
            "--cache-dir", str(ROOT / ".mypy_cache"),
            *(arg for name in sorted(packages) for arg in ("-p", name)),
            *argv,
        ]
        env = {**os.environ, "MYPYPATH": str(tree)}
        done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    # mypy names files relative to its working directory, the tree: name them as in the repository
    real = {f"{name.replace('.', '/')}/": f"{folder.relative_to(ROOT).as_posix()}/"
            for name, folder in packages.items()}
    for line in (done.stdout + done.stderr).splitlines():
        linked = next((prefix for prefix in real if line.startswith(prefix)), None)
        print(real[linked] + line.removeprefix(linked) if linked else line)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
