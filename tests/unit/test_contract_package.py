"""Contract packages: deterministic ids, checked unpacking, two versions loaded side by side."""

from __future__ import annotations

import gzip
import io
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from careledger.network.config import Layout
from careledger.network.identity.certs import IdentitySpec, generate_org
from careledger.network.identity.membership import Membership
from careledger.network.identity.signing import Signer
from careledger.network.peer import contractpackage as cp
from careledger.network.peer.installed import InstalledPackages, LifecycleService
from careledger.protos.common_pb2 import Signed
from careledger.protos.lifecycle_pb2 import LifecycleRequest

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


class _Aborted(Exception):
    def __init__(self, code: object, details: str) -> None:
        super().__init__(details)
        self.code, self.details = code, details


class _Context:
    def abort(self, code: object, details: str) -> None:
        raise _Aborted(code, details)


@pytest.fixture()
def service(tmp_path: Path) -> tuple[LifecycleService, Layout]:
    layout = Layout(tmp_path)
    for org in ("hospital", "insurer"):
        generate_org(layout.crypto, org, [IdentitySpec("admin", "admin"), IdentitySpec("nurse", "client")])
    members = Membership.from_crypto_dir(layout.crypto, ["hospital", "insurer"])
    return LifecycleService("peer0.hospital", "hospital", members, InstalledPackages(tmp_path / "pk")), layout


def _signed(layout: Layout, who: tuple[str, str], at: datetime | None = None, **operation: object) -> Signed:
    signer = Signer.from_dir(layout.identity_dir(*who))
    stamp = Timestamp()
    stamp.FromDatetime(at or datetime.now(UTC))
    payload = LifecycleRequest(creator=signer.cert_pem, timestamp=stamp, **operation).SerializeToString()
    return Signed(payload=payload, signature=signer.sign(payload))


def test_only_a_fresh_request_of_an_admin_of_the_peers_org_installs(
        service: tuple[LifecycleService, Layout], tmp_path: Path) -> None:
    svc, layout = service
    archive = _counter(tmp_path, "1.0")
    for who, at, expected in [
        (("hospital", "nurse"), None, "hospital/nurse is not an admin of hospital"),
        (("insurer", "admin"), None, "insurer/admin is not an admin of hospital"),
        (("hospital", "admin"), datetime.now(UTC) - timedelta(hours=1), "check the clock"),
    ]:
        with pytest.raises(_Aborted) as refused:
            svc.InstallPackage(_signed(layout, who, at, install=archive), _Context())
        assert expected in refused.value.details
        assert "install on peer0.hospital refused" in refused.value.details
    with pytest.raises(_Aborted) as refused:
        svc.InstallPackage(_signed(layout, ("hospital", "admin"), install=b"junk"), _Context())
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a contract package" in refused.value.details
    listed = svc.QueryInstalled(_signed(layout, ("hospital", "admin"), query_installed=True), _Context())
    assert list(listed.packages) == []  # nothing refused was kept
    done = svc.InstallPackage(_signed(layout, ("hospital", "admin"), install=archive), _Context())
    assert done.package.package_id == cp.inspect(archive).package_id and not done.already_installed
    listed = svc.QueryInstalled(_signed(layout, ("hospital", "admin"), query_installed=True), _Context())
    assert [p.package_id for p in listed.packages] == [done.package.package_id]
