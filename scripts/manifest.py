#!/usr/bin/env python3
"""The project's lists, as CMake defines them (cmake/Manifest.cmake).

Each list is defined once in CMake, which writes build/<preset>/manifest.json
when it configures. Scripts read it here rather than keeping a copy:

    scripts/manifest.py fuzz_targets          # one item per line
    python3 -c 'import manifest; manifest.load()["planted_bugs"]'

When no build has been configured yet, load() configures the default preset
(a few seconds, no compiling).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEYS = ("fuzz_targets", "planted_bugs", "dut_files")


def load(build: Path | None = None) -> dict:
    """The manifest of `build` (default: build/default, configured if missing)."""
    if build is None:
        build = ROOT / "build" / "default"
        if not (build / "manifest.json").exists():
            subprocess.run(["cmake", "--preset", "default"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    path = Path(build) / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise SystemExit(f"manifest: {path} does not exist: configure that build first (cmake -B {build})")
    except json.JSONDecodeError as error:
        raise SystemExit(f"manifest: {path} is not JSON ({error}): configure that build again")
    missing = [key for key in KEYS if key not in manifest]
    if missing:
        raise SystemExit(f"manifest: {path} lacks {', '.join(missing)}: configure that build again")
    return manifest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("key", choices=KEYS, help="the list to print, one item per line")
    parser.add_argument("--build", type=Path, help="a configured build directory (default: build/default)")
    args = parser.parse_args()
    for item in load(args.build)[args.key]:
        print(item)
    return 0


if __name__ == "__main__":
    sys.exit(main())
