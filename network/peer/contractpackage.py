"""Contract packages: a contract's Python source and metadata in one deterministic archive.

A package is a gzip'd tar of `metadata.json` (name, version, entry) and the source under `src/`,
with sorted entries, fixed times, owners and modes, so the same source always gives the same bytes
and so the same package id, `NAME_VERSION:<sha256 of the archive>`. Orgs approve that id; a peer
proves an installed archive is the approved code by hashing it. A peer unpacks a package only after
checking its size, its hash and every path (no absolute paths, no `..`, only regular files), and
loads the entry class under a module name unique to the package, so two versions coexist in one
process.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import importlib.util
import io
import json
import re
import shutil
import sys
import tarfile
import types
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from careledger.chaincode.contract import Contract
from careledger.chaincode.errors import ContractDefinitionError

MAX_PACKAGE_BYTES = 4 << 20  # one gRPC message carries it (the default max_message_bytes is larger)
MAX_UNPACKED_BYTES = 32 << 20  # a small archive must not unpack into a disk-filling bomb
METADATA = "metadata.json"
SOURCE_DIR = "src"
_SKIPPED = ("__pycache__",)
_NAME = re.compile(r"^[A-Za-z0-9]+([-_][A-Za-z0-9]+)*$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+-]{0,63}$")
_ENTRY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")
_PACKAGE_ID = re.compile(r"^(?P<label>[A-Za-z0-9_.+-]+):(?P<hash>[0-9a-f]{64})$")


class PackageError(Exception):
    """A package cannot be built, checked or loaded; the message names it and says why."""


@dataclass(frozen=True)
class PackageInfo:
    """What a package says about itself, and the id its bytes give."""

    name: str
    version: str
    entry: str  # module:Class, the module relative to the package's src/
    package_id: str

    @property
    def label(self) -> str:
        return f"{self.name}_{self.version}"

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "entry": self.entry,
                "package_id": self.package_id}


def package_id_of(name: str, version: str, archive: bytes) -> str:
    """The id orgs approve: the label and the SHA-256 of the archive's bytes."""
    return f"{name}_{version}:{hashlib.sha256(archive).hexdigest()}"


def split_package_id(package_id: str) -> tuple[str, str]:
    """(label, sha256 hex) of a package id, or PackageError naming what is malformed."""
    found = _PACKAGE_ID.match(package_id)
    if not found:
        raise PackageError(f"package id {package_id!r} is not LABEL:<64 hex digits of SHA-256>; "
                           "`careledger contract package` prints it")
    return found["label"], found["hash"]


def _check_metadata(name: str, version: str, entry: str) -> None:
    if not _NAME.match(name):
        raise PackageError(f"contract name {name!r} is not letters and digits separated by '-' or '_'")
    if not _VERSION.match(version):
        raise PackageError(f"version {version!r} of contract {name!r} must be 1-64 letters, digits, "
                           "'.', '+' or '-', starting with a letter or digit")
    if not _ENTRY.match(entry):
        raise PackageError(f"entry {entry!r} of contract {name!r} must look like module:Class")


def _source_files(root: Path) -> list[tuple[str, bytes]]:
    """Every file under `root` (no caches or compiled files), as (posix path, bytes), sorted."""
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part in _SKIPPED for part in rel.parts) or path.suffix == ".pyc" or not path.is_file():
            continue
        files.append((rel.as_posix(), path.read_bytes()))
    return files


def build(name: str, version: str, entry: str, files: list[tuple[str, bytes]]) -> bytes:
    """The deterministic archive of these source files (paths relative to src/)."""
    _check_metadata(name, version, entry)
    metadata = json.dumps({"name": name, "version": version, "entry": entry}, sort_keys=True).encode()
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=9) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, data in [(METADATA, metadata),
                           *sorted((f"{SOURCE_DIR}/{p}", d) for p, d in files)]:
            info = tarfile.TarInfo(path)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    archive = buffer.getvalue()
    if len(archive) > MAX_PACKAGE_BYTES:
        raise PackageError(f"package of {name} {version} is {len(archive)} bytes; the limit is "
                           f"{MAX_PACKAGE_BYTES}: package only the contract's own source")
    return archive


def build_from_module(name: str, version: str, spec: str) -> bytes:
    """Package an importable contract ("package.module:Class"): the folder of its top package
    below careledger.chaincode.contracts (a built-in contract's folder), or its single file."""
    module_name, _, cls = spec.partition(":")
    found = importlib.util.find_spec(module_name) if module_name else None
    if found is None or found.origin is None or not cls:
        raise PackageError(f"contract spec {spec!r}: no importable module {module_name!r} (want "
                           "package.module:Class)")
    origin = Path(found.origin)
    if found.submodule_search_locations:  # a package: its folder, entry "folder[.sub]:Class"
        folder = origin.parent
        return build(name, version, f"{folder.name}:{cls}",
                     [(f"{folder.name}/{p}", d) for p, d in _source_files(folder)])
    return build(name, version, f"{origin.stem}:{cls}", [(origin.name, origin.read_bytes())])


def build_from_path(name: str, version: str, directory: Path, entry: str) -> bytes:
    """Package a folder of source whose module `entry` (relative to it) holds the contract class."""
    if not directory.is_dir():
        raise PackageError(f"{directory} is not a folder of contract source")
    return build(name, version, entry, _source_files(directory))


def _members(archive: bytes, what: str) -> tuple[dict[str, str], list[tuple[tarfile.TarInfo, bytes]]]:
    """The metadata and the checked source entries of an archive."""
    if len(archive) > MAX_PACKAGE_BYTES:
        raise PackageError(f"{what} is {len(archive)} bytes; the limit is {MAX_PACKAGE_BYTES}")
    files: list[tuple[tarfile.TarInfo, bytes]] = []
    metadata: dict[str, str] | None = None
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            for info in tar:
                path = PurePosixPath(info.name)
                if path.is_absolute() or ".." in path.parts or "\\" in info.name:
                    raise PackageError(f"{what} holds the unsafe path {info.name!r} (absolute or "
                                       "with '..'); it is refused")
                if info.isdir():
                    continue
                if not info.isfile():
                    raise PackageError(f"{what} holds {info.name!r}, which is not a regular file "
                                       "(links and devices are refused)")
                total += info.size
                if total > MAX_UNPACKED_BYTES:
                    raise PackageError(f"{what} unpacks to more than {MAX_UNPACKED_BYTES} bytes")
                extracted = tar.extractfile(info)
                data = extracted.read() if extracted else b""
                if info.name == METADATA:
                    metadata = json.loads(data)
                elif path.parts[0] == SOURCE_DIR and len(path.parts) > 1:
                    files.append((info, data))
                else:
                    raise PackageError(f"{what} holds {info.name!r} outside {SOURCE_DIR}/")
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:  # gzip/tar/JSON damage
        raise PackageError(f"{what} is not a contract package (gzip'd tar): {exc}") from exc
    if not isinstance(metadata, dict) or not all(
            isinstance(metadata.get(k), str) for k in ("name", "version", "entry")):
        raise PackageError(f"{what} has no {METADATA} naming name, version and entry")
    return metadata, files


def inspect(archive: bytes, what: str = "the package") -> PackageInfo:
    """Check an archive (size, paths, metadata) and give what it is, with its id."""
    metadata, _ = _members(archive, what)
    name, version, entry = metadata["name"], metadata["version"], metadata["entry"]
    try:
        _check_metadata(name, version, entry)
    except PackageError as exc:
        raise PackageError(f"{what}: {exc}") from exc
    return PackageInfo(name, version, entry, package_id_of(name, version, archive))


def unpack(archive: bytes, into: Path) -> PackageInfo:
    """Check and write the package's source under `into` (made fresh); returns its info."""
    info = inspect(archive)
    _, files = _members(archive, f"package {info.package_id}")
    if into.exists():
        shutil.rmtree(into)
    for member, data in files:
        target = into.joinpath(*PurePosixPath(member.name).parts[1:])
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    (into / METADATA).write_text(json.dumps(info.to_json(), sort_keys=True))
    return info


def module_prefix(package_id: str) -> str:
    """The import name a package's source lives under in a peer's process: one per package."""
    return "careledger_package_" + split_package_id(package_id)[1][:24]


def load(info: PackageInfo, source: Path) -> Contract:
    """Import the entry class of an unpacked package under its own module name and instantiate it.

    Modules of the package import each other relatively; `careledger.*` imports resolve to the
    peer's contract API."""
    prefix = module_prefix(info.package_id)
    if prefix not in sys.modules:
        root = types.ModuleType(prefix, f"contract package {info.package_id}")
        root.__path__ = [str(source)]
        sys.modules[prefix] = root
    module_name, _, class_name = info.entry.partition(":")
    where = f"package {info.package_id} entry {info.entry}"
    try:
        module = importlib.import_module(f"{prefix}.{module_name}")
    except Exception as exc:  # the package's own code failed to import: name it
        raise ContractDefinitionError(f"{where}: cannot import: {type(exc).__name__}: {exc}") from exc
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Contract)):
        raise ContractDefinitionError(f"{where}: {class_name!r} is not a Contract subclass")
    if getattr(cls, "name", None) != info.name:
        raise ContractDefinitionError(f"{where}: the class's name is {getattr(cls, 'name', None)!r}, "
                                      f"not the package's {info.name!r}")
    return cls()
