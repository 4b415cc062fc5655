"""Print pip constraints that pin every direct dependency to its declared floor.

    python devops/lowest_deps.py [EXTRA...] > lowest.txt
    pip install -c lowest.txt -c constraints/cpu.txt -e '.[dev]'

pip has no "lowest-direct" resolution; pinning each `name>=X` to `name==X` gives the same
install: the direct dependencies at their floors, everything else resolved as usual. torch is
left to constraints/cpu.txt (the CPU build on this machine's disk). Standard library only.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

SKIP = {"torch"}
FLOOR = re.compile(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(?:[^>=]*,)?\s*>=\s*([^,;\s]+)")


def floors(requirements: list[str]) -> dict[str, str]:
    pins = {}
    for req in requirements:
        match = FLOOR.match(req.split(";")[0].strip())
        if match and match.group(1).lower() not in SKIP:
            pins[match.group(1).lower()] = match.group(3)
    return pins


def main(extras: list[str]) -> None:
    project = tomllib.loads(Path(__file__).parents[1].joinpath("pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in extras:
        reqs += project["optional-dependencies"][extra]
    for name, version in sorted(floors(reqs).items()):
        print(f"{name}=={version}")


if __name__ == "__main__":
    main(sys.argv[1:])
