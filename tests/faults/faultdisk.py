"""A peer's disk running full, two honest ways, chosen by what the machine allows.

`TmpfsDisk` (preferred): the peer's data folder is moved onto a small tmpfs mounted just for it,
then the rest of that tmpfs is filled with a filler file: the peer's next write gets ENOSPC, as on
a real full disk. Needs the right to mount (root with CAP_SYS_ADMIN). Freeing the filler returns
the space.

`FileSizeLimit` (fallback): RLIMIT_FSIZE of the running peer process is lowered to the size its
block file has now, so the next block write fails with EFBIG (Python ignores SIGXFSZ); raising the
limit back returns the "space". Any user can do this to their own process.
"""

from __future__ import annotations

import errno
import os
import resource
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Protocol

from careledger.network.config import NodeInfo
from careledger.network.local import launcher
from careledger.network.local.testing import LocalNetwork

FILLER = "disk-filler.bin"


class FullDisk(Protocol):
    kind: str

    def prepare(self) -> None: ...

    def fill(self, leave: int = 0) -> None: ...

    def free(self) -> None: ...

    def restore(self) -> None: ...


def can_mount_tmpfs() -> bool:
    """True if this process may mount a tmpfs (tried on a scratch folder, then unmounted)."""
    scratch = Path(tempfile.mkdtemp(prefix="careledger-mountcheck-"))
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(scratch)],
                                 capture_output=True).returncode == 0
        if mounted:
            subprocess.run(["umount", str(scratch)], check=True)
        return mounted
    except (FileNotFoundError, subprocess.CalledProcessError):
        return False
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class TmpfsDisk:
    """The peer's data folder on its own small tmpfs, which `fill()` fills to the last byte."""

    kind = "tmpfs (ENOSPC)"

    def __init__(self, net: LocalNetwork, node: NodeInfo, headroom_mb: int = 16) -> None:
        self._net = net
        self._node = node
        self._data = net.layout.node_data(node)
        self._moved = self._data.with_name(self._data.name + ".on-disk")
        self._headroom = headroom_mb
        self._mounted = False

    def prepare(self) -> None:
        """Stop the peer, move its data onto a fresh tmpfs, start it again."""
        self._net.stop(self._node.id)
        used = sum(p.stat().st_size for p in self._data.rglob("*") if p.is_file())
        size_mb = used // (1 << 20) + self._headroom
        self._data.rename(self._moved)
        self._data.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(self._data)],
                       check=True)
        self._mounted = True
        shutil.copytree(self._moved, self._data, dirs_exist_ok=True)
        self._net.start(self._node.id)

    def fill(self, leave: int = 0) -> None:
        """Write a filler file until the tmpfs refuses another byte, then give back `leave` bytes."""
        chunk = 1 << 20
        filler = self._data / FILLER
        with filler.open("wb", buffering=0) as f:
            while chunk:
                try:
                    f.write(b"\0" * chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    chunk //= 2
        if leave:
            os.truncate(filler, max(filler.stat().st_size - leave, 0))

    def free(self) -> None:
        (self._data / FILLER).unlink(missing_ok=True)

    def restore(self) -> None:
        """With the peer stopped: copy its data back to the real disk and unmount the tmpfs."""
        if not self._mounted:
            return
        launcher.stop_node(self._net.layout, self._node.id)
        self.free()
        shutil.rmtree(self._moved)
        shutil.copytree(self._data, self._moved)
        subprocess.run(["umount", str(self._data)], check=True)
        self._mounted = False
        self._data.rmdir()
        self._moved.rename(self._data)


class FileSizeLimit:
    """RLIMIT_FSIZE of the running peer, lowered to the size of its block file."""

    kind = "RLIMIT_FSIZE on the peer process (EFBIG)"

    def __init__(self, net: LocalNetwork, node: NodeInfo) -> None:
        self._net = net
        self._node = node
        self._pid = 0
        self._before: tuple[int, int] | None = None

    def prepare(self) -> None:
        pass

    def fill(self, leave: int = 0) -> None:
        self._pid = next(s.pid or 0 for s in launcher.status(self._net.layout.root) if s.id == self._node.id)
        blocks = self._net.layout.node_data(self._node) / "blocks" / "blocks.bin"
        self._before = resource.prlimit(self._pid, resource.RLIMIT_FSIZE)
        limit = blocks.stat().st_size + leave
        resource.prlimit(self._pid, resource.RLIMIT_FSIZE, (limit, self._before[1]))

    def free(self) -> None:
        if self._before is not None:
            resource.prlimit(self._pid, resource.RLIMIT_FSIZE, self._before)
            self._before = None

    def restore(self) -> None:
        try:
            self.free()
        except ProcessLookupError:
            pass


def full_disk(net: LocalNetwork, node: NodeInfo, headroom_mb: int = 16) -> FullDisk:
    """A tmpfs if this machine lets us mount one, else the file-size limit.

    CARELEDGER_FAULT_DISK=rlimit forces the fallback, e.g. to test it where mounting works.
    """
    forced = os.environ.get("CARELEDGER_FAULT_DISK", "")
    if forced != "rlimit" and os.geteuid() == 0 and can_mount_tmpfs():
        return TmpfsDisk(net, node, headroom_mb)
    return FileSizeLimit(net, node)
