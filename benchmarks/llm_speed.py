"""How fast and how lean is `effprof llm`? Prints wall time, CPU time and peak RSS (a script, not a test).

    python benchmarks/llm_speed.py              # Llama-3.1-405B's config, prompt 8192, 1024 generated
    python benchmarks/llm_speed.py --batch 1,8,32,128

The whole command runs in a fresh subprocess (`python -m profiler llm ...`: import, build on
meta, prefill and decode traces, pricing, rendering), so that peak RSS is its own. Target: under
10 s and under 1 GB peak RSS on a 2-core machine. CPU time is printed too: on a shared machine
wall time includes waiting for a core, CPU time does not.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "tests" / "data" / "llm" / "llama-3.1-405b.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", default="1")
    parser.add_argument("--prompt", type=int, default=8192)
    parser.add_argument("--generate", type=int, default=1024)
    parser.add_argument("--hw", default="h200")
    args = parser.parse_args()
    command = [sys.executable, "-m", "profiler", "llm", str(CONFIG), "--hw", args.hw, "--prompt", str(args.prompt),
               "--generate", str(args.generate), "--batch", args.batch, "--format", "json"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return done.returncode
    load = os.getloadavg()[0]
    print(f"Llama-3.1-405B config, prompt {args.prompt}, generate {args.generate}, batch {args.batch}, --hw {args.hw}")
    print(f"wall {wall:.2f} s, CPU {usage.ru_utime + usage.ru_stime:.2f} s, peak RSS {usage.ru_maxrss / 1024:.0f} MB "
          f"(load average {load:.1f} on {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
