"""The contract packages installed on this peer, and the Lifecycle service that installs them.

Only an admin of the peer's own org may install (an org vouches for the code its peers run) or list.
A package lives under DATA/packages/: the archive as HASH.tar.gz and its checked, unpacked source
in HASH/, so a restart keeps it. Installing is idempotent; loading happens on first use and is
cached, one module name per package (contractpackage.load), so two versions coexist.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc

from careledger.chaincode.contract import Contract
from careledger.network.identity.membership import Identity, Membership
from careledger.network.ledger import txtime
from careledger.network.node.grpcutil import RequestError, unary
from careledger.network.node.signedrequest import open_signed
from careledger.network.peer import contractpackage
from careledger.network.peer.contractpackage import PackageError, PackageInfo
from careledger.protos import common_pb2, lifecycle_pb2, lifecycle_pb2_grpc

log = logging.getLogger(__name__)
ADMIN_ROLE = "admin"


class InstalledPackages:
    """Packages on this peer's disk, and the contracts loaded from them."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._lock = threading.Lock()
        self._loaded: dict[str, Contract] = {}
        self.generation = 0  # bumped by each new install: the endorser's contracts are rebuilt

    def install(self, archive: bytes) -> tuple[PackageInfo, bool]:
        """Check, store and unpack an archive; (its info, whether it was already installed)."""
        info = contractpackage.inspect(archive)
        digest = contractpackage.split_package_id(info.package_id)[1]
        with self._lock:
            stored = self._dir / f"{digest}.tar.gz"
            if stored.exists() and (self._dir / digest).is_dir():
                return info, True
            self._dir.mkdir(parents=True, exist_ok=True)
            contractpackage.unpack(archive, self._dir / digest)
            partial = stored.with_suffix(".part")
            partial.write_bytes(archive)
            partial.replace(stored)  # the archive's presence marks a complete install
            self.generation += 1
        log.info("installed contract package %s (entry %s)", info.package_id, info.entry)
        return info, False

    def list(self) -> list[PackageInfo]:
        """Every complete install, by package id."""
        if not self._dir.is_dir():
            return []
        found = [self._info(p.name.removesuffix(".tar.gz")) for p in self._dir.glob("*.tar.gz")]
        return sorted((i for i in found if i is not None), key=lambda i: i.package_id)

    def _info(self, digest: str) -> PackageInfo | None:
        try:
            return contractpackage.inspect((self._dir / f"{digest}.tar.gz").read_bytes())
        except (OSError, PackageError) as exc:
            log.error("installed package %s unreadable: %s", digest, exc)
            return None

    def has(self, package_id: str) -> bool:
        try:
            digest = contractpackage.split_package_id(package_id)[1]
        except PackageError:
            return False
        return (self._dir / f"{digest}.tar.gz").exists()

    def contract(self, package_id: str) -> Contract | None:
        """The contract of an installed package (loaded once), or None if it is not installed."""
        with self._lock:
            if package_id in self._loaded:
                return self._loaded[package_id]
        if not self.has(package_id):
            return None
        digest = contractpackage.split_package_id(package_id)[1]
        info = self._info(digest)
        if info is None or info.package_id != package_id:
            return None
        contract = contractpackage.load(info, self._dir / digest)
        with self._lock:
            return self._loaded.setdefault(package_id, contract)


def _message(info: PackageInfo) -> lifecycle_pb2.InstalledPackage:
    return lifecycle_pb2.InstalledPackage(package_id=info.package_id, name=info.name,
                                          version=info.version, entry=info.entry)


class LifecycleService(lifecycle_pb2_grpc.LifecycleServicer):
    """InstallPackage and QueryInstalled for admins of this peer's org."""

    def __init__(self, peer_id: str, org: str, membership: Membership, packages: InstalledPackages,
                 clock_skew: Callable[[], timedelta] = lambda: txtime.DEFAULT_CLOCK_SKEW,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._peer = peer_id
        self._org = org
        self._membership = membership
        self._packages = packages
        self._clock_skew = clock_skew
        self._clock = clock

    def _open(self, signed: common_pb2.Signed,
              operation: str) -> tuple[lifecycle_pb2.LifecycleRequest, Identity]:
        """The request, signed recently by an admin of this peer's org, for this operation."""
        try:
            req, caller = open_signed(signed, lifecycle_pb2.LifecycleRequest, self._membership)
        except RequestError as exc:
            raise RequestError(exc.code, f"{operation} on {self._peer} refused: {exc.message}") from exc
        if req.WhichOneof("operation") != operation:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"{operation} on {self._peer} refused: the signed request carries "
                               f"{req.WhichOneof('operation') or 'no operation'}")
        now, skew = self._clock(), self._clock_skew()
        if not req.HasField("timestamp") or abs(req.timestamp.ToDatetime(UTC) - now) > skew:
            when = req.timestamp.ToDatetime(UTC).isoformat() if req.HasField("timestamp") else "none"
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"{operation} on {self._peer} refused: the request's time ({when}) is more "
                               f"than {skew} from the peer's {now.isoformat()}; check the clock")
        if caller.org != self._org or caller.role != ADMIN_ROLE:
            raise RequestError(grpc.StatusCode.PERMISSION_DENIED,
                               f"{operation} on {self._peer} refused: {caller.id} is not an admin of "
                               f"{self._org}; only {self._org}'s admins manage its peers' contract "
                               f"packages (use --as {self._org}/admin)")
        return req, caller

    @unary
    def InstallPackage(self, request: common_pb2.Signed,
                       context: grpc.ServicerContext) -> lifecycle_pb2.InstallResponse:
        req, caller = self._open(request, "install")
        try:
            info, already = self._packages.install(req.install)
        except PackageError as exc:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"install on {self._peer} refused: {exc}") from exc
        log.info("%s: %s %s package %s", self._peer, caller.id,
                 "re-installed" if already else "installed", info.package_id)
        return lifecycle_pb2.InstallResponse(package=_message(info), already_installed=already,
                                             peer=self._peer)

    @unary
    def QueryInstalled(self, request: common_pb2.Signed,
                       context: grpc.ServicerContext) -> lifecycle_pb2.QueryInstalledResponse:
        self._open(request, "query_installed")
        return lifecycle_pb2.QueryInstalledResponse(
            packages=[_message(i) for i in self._packages.list()], peer=self._peer)
