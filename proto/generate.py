"""Regenerate the Python protobuf and gRPC modules from the .proto files.

Run `python proto/generate.py` after editing a .proto; `--check` fails if the committed code is stale.
Besides the *_pb2.py and *_pb2_grpc.py modules, protoc writes a *_pb2.pyi type stub per .proto
(--pyi_out), so that a type checker knows every message's fields; the stubs are checked alike.
"""

from __future__ import annotations

import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent
PACKAGE = ROOT / "careledger" / "protos"
GENERATED = {".py", ".pyi"}  # the message and gRPC modules, and the messages' type stubs


def generate(out: Path) -> None:
    include = Path(protoc.__file__).parent / "_proto"
    protos = sorted(str(p.relative_to(ROOT)) for p in PACKAGE.glob("*.proto"))
    args = ["protoc", f"-I{ROOT}", f"-I{include}", f"--python_out={out}", f"--pyi_out={out}",
            f"--grpc_python_out={out}"]
    if protoc.main(args + protos) != 0:
        raise SystemExit("protoc failed")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        fresh = Path(tmp) / "careledger" / "protos"
        names = sorted(p.name for p in fresh.iterdir() if p.suffix in GENERATED and "_pb2" in p.stem)
        if "--check" in sys.argv:
            stale = [n for n in names if not (PACKAGE / n).exists()
                     or not filecmp.cmp(fresh / n, PACKAGE / n, shallow=False)]
            stale += sorted(p.name for p in PACKAGE.iterdir()  # left over from a removed .proto
                            if p.suffix in GENERATED and "_pb2" in p.stem and p.name not in names)
            if stale:
                print(f"generated code is stale: {', '.join(stale)}; run python proto/generate.py")
                return 1
            print(f"generated code is up to date ({len(names)} files)")
            return 0
        for n in names:
            shutil.copyfile(fresh / n, PACKAGE / n)
        print(f"wrote {len(names)} files to {PACKAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
