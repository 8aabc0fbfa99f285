"""The distribution says what it is: licence, authors, classifiers."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_project_is_apache_2_licensed_with_the_licence_text_shipped() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


def test_project_names_its_authors_and_classifiers() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["authors"] == [{"name": "CareLedger developers"}]
    assert project["maintainers"] == [{"name": "CareLedger developers"}]
    classifiers = project["classifiers"]
    assert "Framework :: Pytest" in classifiers  # the pytest11 plugin
    assert not [c for c in classifiers if c.startswith("License ::")]  # the SPDX expression says it
