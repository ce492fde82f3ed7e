"""Rewrite the golden outputs from the current code: `python tests/golden/regenerate.py [NAME...]`.

Run it only for an intended change of output, review `git diff tests/golden/outputs`, and say in the
commit message which change made the goldens move.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this checkout's `profiler`
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cases import CASES, OUTPUTS, run_case  # noqa: E402


def main(names: list[str]) -> int:
    unknown = [name for name in names if name not in CASES]
    if unknown:
        print(f"unknown golden case(s): {', '.join(unknown)}; known: {', '.join(CASES)}", file=sys.stderr)
        return 2
    OUTPUTS.mkdir(exist_ok=True)
    for name in names or list(CASES):
        code, out = run_case(CASES[name], Path(name).suffix)
        if code != 0:
            print(f"{name}: effprof exited {code}", file=sys.stderr)
            return 1
        (OUTPUTS / name).write_text(out)
        print(f"wrote {OUTPUTS / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
