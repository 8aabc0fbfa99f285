"""Contract packages: deterministic ids, checked unpacking, two versions loaded side by side."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from careledger.network.peer import contractpackage as cp
from careledger.network.peer.installed import InstalledPackages

CONSENT = "careledger.chaincode.contracts.consent:ConsentContract"

COUNTER = '''
from careledger.chaincode import Context, Contract, evaluate

from .version import VERSION


class Counter(Contract):
    name = "counter"

    @evaluate
    def version(self, ctx: Context) -> str:
        return VERSION
'''


def _counter(tmp_path: Path, version: str) -> bytes:
    src = tmp_path / f"src-{version}"
    (src / "counter").mkdir(parents=True)
    (src / "counter" / "__init__.py").write_text(COUNTER)
    (src / "counter" / "version.py").write_text(f"VERSION = {version!r}\n")
    return cp.build_from_path("counter", version, src, "counter:Counter")


def _tar(entries: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for info, data in entries:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_the_same_source_gives_the_same_id_and_a_change_another() -> None:
    first = cp.build_from_module("consent", "1.0", CONSENT)
    assert cp.build_from_module("consent", "1.0", CONSENT) == first
    info = cp.inspect(first)
    assert info.package_id.startswith("consent_1.0:") and len(info.package_id.split(":")[1]) == 64
    assert info.entry == "consent:ConsentContract"
    assert cp.inspect(cp.build_from_module("consent", "1.1", CONSENT)).package_id != info.package_id


def test_a_package_with_an_unsafe_path_is_refused() -> None:
    meta = b'{"name": "x", "version": "1", "entry": "x:X"}'
    for bad in ("/etc/passwd", "src/../../evil.py", "../evil.py"):
        archive = _tar([(tarfile.TarInfo("metadata.json"), meta), (tarfile.TarInfo(bad), b"x")])
        with pytest.raises(cp.PackageError, match="unsafe path"):
            cp.inspect(archive)
    link = tarfile.TarInfo("src/link.py")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    with pytest.raises(cp.PackageError, match="not a regular file"):
        cp.inspect(_tar([(tarfile.TarInfo("metadata.json"), meta), (link, b"")]))
    with pytest.raises(cp.PackageError, match="not a contract package"):
        cp.inspect(b"not a tar at all")
    with pytest.raises(cp.PackageError, match="limit"):
        cp.inspect(b"\0" * (cp.MAX_PACKAGE_BYTES + 1))


def test_bad_metadata_is_refused() -> None:
    with pytest.raises(cp.PackageError, match="version"):
        cp.build("counter", "../1", "counter:Counter", [])
    with pytest.raises(cp.PackageError, match="module:Class"):
        cp.build("counter", "1", "counter", [])


def test_two_versions_install_and_load_side_by_side(tmp_path: Path) -> None:
    store = InstalledPackages(tmp_path / "packages")
    one, two = _counter(tmp_path, "1.0"), _counter(tmp_path, "2.0")
    info1, already = store.install(one)
    assert not already and store.install(one)[1]
    info2, _ = store.install(two)
    assert [i.package_id for i in store.list()] == sorted([info1.package_id, info2.package_id])
    c1, c2 = store.contract(info1.package_id), store.contract(info2.package_id)
    assert c1 is not None and c2 is not None
    assert c1.version(None) == "1.0" and c2.version(None) == "2.0"  # type: ignore[attr-defined]
    assert type(c1).__module__ != type(c2).__module__
    assert InstalledPackages(tmp_path / "packages").has(info2.package_id)  # kept across a restart
    assert store.contract("counter_3.0:" + "0" * 64) is None


def test_a_package_whose_class_has_another_name_does_not_load(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "counter").mkdir(parents=True)
    (src / "counter" / "__init__.py").write_text(COUNTER)
    (src / "counter" / "version.py").write_text("VERSION = '1'\n")
    store = InstalledPackages(tmp_path / "packages")
    info, _ = store.install(cp.build_from_path("tally", "1", src, "counter:Counter"))
    with pytest.raises(Exception, match="not the package's 'tally'"):
        store.contract(info.package_id)
