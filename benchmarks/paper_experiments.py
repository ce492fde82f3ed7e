"""ShuffleNet V2's guideline experiments (Tables 1-4) and RepVGG's kernel-size claim, estimated by effprof.

    python benchmarks/paper_experiments.py                 # every table, eager and --fuse, both devices
    python benchmarks/paper_experiments.py --markdown out.md
    python benchmarks/paper_experiments.py --spec-gpu a.yaml --spec-arm b.yaml   # other specs

The networks are rebuilt from the papers' text (docs/accuracy.md, "The papers' experiments", says
what each sentence left open and what was chosen): each table's own channel counts at 56x56,
batch 1, fp32, on meta tensors: nothing runs, effprof only estimates. The measured speeds
(/work/shared/papers: ShuffleNet V2 Tables 1-4, measured on a GTX 1080Ti with cuDNN 7 and on one
Cortex-A57 core of a Snapdragon 810) are the test, never an input: no number below is fitted to them.

For every table column the first row is the reference. A *direction* is whether a row is faster or
slower than the reference; rows the paper measured equal to it are skipped. The *ratio error* of a
row is (predicted speed ratio to the reference) / (measured ratio) - 1, and each table reports the
median of its absolute values.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from profiler.api import profile  # noqa: E402
from profiler.hardware import load_spec  # noqa: E402

SPATIAL = 56  # "Input 56x56 in Tables 1-3" (and taken for Table 4, whose geometry the paper does not give)
BLOCKS = 10  # every benchmark network stacks its block 10 times


def _conv(c_in: int, c_out: int, kernel: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, groups=groups, bias=False)


# ------------------------------------------------------------------------------------------ networks


class G1Block(nn.Module):
    """Two 1x1 convolutions: c1 -> c2, then c2 -> c1 (ShuffleNet V2, Table 1)."""

    def __init__(self, c1: int, c2: int) -> None:
        super().__init__()
        self.expand, self.contract = _conv(c1, c2), _conv(c2, c1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.contract(self.expand(x))


class Parallel(nn.Module):
    """`n` 1x1 convolutions c -> c/n on the same input, concatenated (the n-fragment-parallel block)."""

    def __init__(self, c: int, n: int) -> None:
        super().__init__()
        self.branches = nn.ModuleList(_conv(c, c // n) for _ in range(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], 1)


class Bottleneck(nn.Module):
    """ResNet bottleneck 4c -> c (1x1) -> c (3x3) -> 4c (1x1), ReLU after each conv and after the
    shortcut add; `relu` and `shortcut` switch them off (ShuffleNet V2, Table 4)."""

    def __init__(self, c: int, relu: bool, shortcut: bool) -> None:
        super().__init__()
        self.conv1, self.conv2, self.conv3 = _conv(4 * c, c), _conv(c, c, 3), _conv(c, 4 * c)
        self.relu, self.shortcut = relu, shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = torch.relu if self.relu else (lambda t: t)
        out = self.conv3(act(self.conv2(act(self.conv1(x)))))
        if self.shortcut:
            out = out + x
        return act(out)


def _stack(blocks: list[nn.Module]) -> nn.Sequential:
    return nn.Sequential(*blocks)


def g1(c1: int, c2: int) -> tuple[nn.Module, int]:
    return _stack([G1Block(c1, c2) for _ in range(BLOCKS)]), c1


def g2(c: int, groups: int) -> tuple[nn.Module, int]:
    return _stack([_conv(c, c, groups=groups) for _ in range(BLOCKS)]), c


def g3(c: int, structure: str) -> tuple[nn.Module, int]:
    """n fragments in series: n convs of width round(c / sqrt(n)) (FLOPs of one c -> c conv);
    in parallel: n convs c -> c/n on one input, concatenated (FLOPs of one c -> c conv)."""
    n = int(structure[0])
    if structure.endswith("parallel"):
        return _stack([Parallel(c, n) for _ in range(BLOCKS)]), c
    width = round(c / math.sqrt(n))
    return _stack([_conv(width, width) for _ in range(BLOCKS * n)]), width


def g4(c: int, relu: bool, shortcut: bool) -> tuple[nn.Module, int]:
    return _stack([Bottleneck(c, relu, shortcut) for _ in range(BLOCKS)]), 4 * c


# ------------------------------------------------------------------------------------------ tables


@dataclass(frozen=True)
class Row:
    label: str
    builds: tuple  # one (builder, args) per column
    measured: tuple[float, ...]  # speeds per column (GPU: batches/s, ARM: images/s)


@dataclass(frozen=True)
class Table:
    name: str
    platform: str  # gpu | arm
    columns: tuple[str, ...]
    rows: tuple[Row, ...]


def _round_to(c: int, multiple: int) -> int:
    """Channels divisible by the groups (the paper's c for g = 8 on ARM x1, 180, is not)."""
    return max(multiple, round(c / multiple) * multiple)


def tables() -> list[Table]:
    g1_gpu = {"1:1": (128, 128), "1:2": (90, 180), "1:6": (52, 312), "1:12": (36, 432)}
    g1_arm = {"1:1": (32, 32), "1:2": (22, 44), "1:6": (13, 78), "1:12": (9, 108)}
    g1_speed = {
        "gpu": {"1:1": (1480, 723, 232), "1:2": (1296, 586, 206), "1:6": (876, 489, 189), "1:12": (748, 392, 163)},
        "arm": {"1:1": (76.2, 21.7, 5.3), "1:2": (72.9, 20.5, 5.1), "1:6": (69.1, 17.9, 4.6), "1:12": (57.6, 15.1, 4.4)},
    }
    g2_c = {"gpu": {1: 128, 2: 180, 4: 256, 8: 360}, "arm": {1: 64, 2: 90, 4: 128, 8: 180}}
    g2_speed = {
        "gpu": {1: (2451, 1289, 437), 2: (1725, 873, 341), 4: (1026, 644, 338), 8: (634, 445, 230)},
        "arm": {1: (40.0, 10.2, 2.3), 2: (35.0, 9.5, 2.2), 4: (32.9, 8.7, 2.1), 8: (27.8, 7.5, 1.8)},
    }
    g3_c = {"gpu": (128, 256, 512), "arm": (64, 128, 256)}
    g3_speed = {
        "gpu": {"1-fragment": (2446, 1274, 434), "2-fragment-series": (1790, 909, 336), "4-fragment-series": (752, 745, 349),
                "2-fragment-parallel": (1537, 803, 320), "4-fragment-parallel": (691, 572, 292)},
        "arm": {"1-fragment": (40.2, 10.1, 2.3), "2-fragment-series": (38.6, 10.1, 2.2), "4-fragment-series": (38.4, 10.1, 2.3),
                "2-fragment-parallel": (33.4, 9.1, 2.2), "4-fragment-parallel": (35.0, 8.4, 2.1)},
    }
    g4_c = {"gpu": (32, 64, 128), "arm": (32, 64, 128)}
    g4_speed = {
        "gpu": {(True, True): (2427, 2066, 1436), (True, False): (2647, 2256, 1735), (False, True): (2672, 2121, 1458),
                (False, False): (2842, 2376, 1782)},
        "arm": {(True, True): (56.7, 16.9, 5.0), (True, False): (61.9, 18.8, 5.2), (False, True): (57.3, 18.2, 5.1),
                (False, False): (66.3, 20.2, 5.4)},
    }
    found = []
    for platform in ("gpu", "arm"):
        found.append(Table("G1", platform, ("x1", "x2", "x4"), tuple(
            Row(ratio, tuple((g1, (c1 * s, c2 * s)) for s in (1, 2, 4)), g1_speed[platform][ratio])
            for ratio, (c1, c2) in (g1_gpu if platform == "gpu" else g1_arm).items())))
        found.append(Table("G2", platform, ("x1", "x2", "x4"), tuple(
            Row(f"g={g}", tuple((g2, (_round_to(c * s, g), g)) for s in (1, 2, 4)), g2_speed[platform][g])
            for g, c in g2_c[platform].items())))
        found.append(Table("G3", platform, tuple(f"c={c}" for c in g3_c[platform]), tuple(
            Row(structure, tuple((g3, (c, structure)) for c in g3_c[platform]), speeds)
            for structure, speeds in g3_speed[platform].items())))
        found.append(Table("G4", platform, tuple(f"c={c}" for c in g4_c[platform]), tuple(
            Row(f"ReLU {'yes' if relu else 'no'}, shortcut {'yes' if short else 'no'}",
                tuple((g4, (c, relu, short)) for c in g4_c[platform]), speeds)
            for (relu, short), speeds in g4_speed[platform].items())))
    return found


# ------------------------------------------------------------------------------------------ estimating


def estimate_latency_s(build, args, spec, fuse: bool) -> float:
    model, channels = build(*args)
    x = torch.empty(1, channels, SPATIAL, SPATIAL, device="meta")
    report = profile(model.to("meta"), x, hardware=spec, fuse=fuse)
    return report.estimate.latency_s


@dataclass
class Result:
    table: Table
    mode: str
    predicted: list[list[float]]  # speeds, rows x columns (1 / latency)

    def directions(self) -> tuple[int, int]:
        hit = total = 0
        for r in range(1, len(self.table.rows)):
            for c in range(len(self.table.columns)):
                measured = self.table.rows[r].measured[c] - self.table.rows[0].measured[c]
                if measured == 0:
                    continue  # the paper measured no difference
                predicted = self.predicted[r][c] - self.predicted[0][c]
                total += 1
                hit += (measured > 0) == (predicted > 0) and predicted != 0
        return hit, total

    def weak(self) -> int:
        """Reproduced directions whose predicted effect is under 1%: right sign, no real signal."""
        count = 0
        for r in range(1, len(self.table.rows)):
            for c in range(len(self.table.columns)):
                measured = self.table.rows[r].measured[c] - self.table.rows[0].measured[c]
                ratio = self.predicted[r][c] / self.predicted[0][c]
                agrees = ratio > 1 if measured > 0 else ratio < 1
                count += measured != 0 and agrees and abs(ratio - 1) < 0.01
        return count

    def ratio_errors(self) -> list[float]:
        errors = []
        for r in range(1, len(self.table.rows)):
            for c in range(len(self.table.columns)):
                measured = self.table.rows[r].measured[c] / self.table.rows[0].measured[c]
                predicted = self.predicted[r][c] / self.predicted[0][c]
                errors.append(predicted / measured - 1)
        return errors

    def median_abs_ratio_error(self) -> float:
        return statistics.median(abs(e) for e in self.ratio_errors())


def run_table(table: Table, spec, fuse: bool) -> Result:
    predicted = [[1.0 / estimate_latency_s(build, args, spec, fuse) for build, args in row.builds] for row in table.rows]
    return Result(table, "--fuse" if fuse else "eager", predicted)


def repvgg_density(spec, fuse: bool = False) -> dict[int, float]:
    """TFLOP/s of FLOPs (2 x MACs) over estimated time, for k x k convs 2048 -> 2048 on 56x56 at batch
    32 (RepVGG's kernel-size test as its Table 1 caption describes it; see docs/accuracy.md)."""
    found = {}
    for k in (1, 3, 5):
        model = _conv(2048, 2048, k).to("meta")
        x = torch.empty(32, 2048, SPATIAL, SPATIAL, device="meta")
        report = profile(model, x, hardware=spec, fuse=fuse)
        found[k] = sum(e.flops for e in report.estimate.kernels) / report.estimate.latency_s / 1e12
    return found


# ------------------------------------------------------------------------------------------ output


def format_result(result: Result) -> list[str]:
    t = result.table
    lines = [f"### {t.name} on the {'GTX 1080Ti' if t.platform == 'gpu' else 'Cortex-A57'}, {result.mode}", "",
             "| row | " + " | ".join(f"{c} measured | {c} effprof" for c in t.columns) + " |",
             "| --- | " + " | ".join("---: | ---:" for _ in t.columns) + " |"]
    for r, row in enumerate(t.rows):
        cells = []
        for c in range(len(t.columns)):
            m_ratio = row.measured[c] / t.rows[0].measured[c]
            p_ratio = result.predicted[r][c] / result.predicted[0][c]
            cells.append(f"{row.measured[c]:g} ({m_ratio:.2f}) | {result.predicted[r][c]:.1f} ({p_ratio:.2f})")
        lines.append(f"| {row.label} | " + " | ".join(cells) + " |")
    hit, total = result.directions()
    lines += ["", (f"Directions reproduced: {hit} of {total} ({result.weak()} of them by less than 1%); median "
                   f"|ratio error| {result.median_abs_ratio_error() * 100:.1f}% (speeds per second; in brackets the "
                   "ratio to the first row)"), ""]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec-gpu", default=str(ROOT / "configs" / "hardware" / "gtx1080ti.yaml"))
    parser.add_argument("--spec-arm", default=str(ROOT / "configs" / "hardware" / "cortex-a57.yaml"))
    parser.add_argument("--markdown", help="also write the tables to this file")
    parser.add_argument("--plain-roofline", action="store_true",
                        help="drop the specs' latency_model: the plain roofline's estimates, for comparison")
    parser.add_argument("--graph-fusion", action="store_true",
                        help="let --fuse also merge parallel 1x1 convs and write concats in place (TensorRT-style), "
                             "which the papers' runtimes do not name")
    args = parser.parse_args(argv)
    specs = {"gpu": load_spec(args.spec_gpu), "arm": load_spec(args.spec_arm)}
    if args.graph_fusion:
        specs = {key: replace(spec, latency_model=replace(spec.latency_model, horizontal_fusion=True, concat_elimination=True))
                 for key, spec in specs.items() if spec.latency_model is not None}
    if args.plain_roofline:
        specs = {key: replace(spec, latency_model=None) for key, spec in specs.items()}
    lines: list[str] = []
    summary: dict[tuple[str, str, str], tuple[int, int, float, int]] = {}
    for fuse in (False, True):
        for table in tables():
            result = run_table(table, specs[table.platform], fuse)
            lines += format_result(result)
            hit, total = result.directions()
            summary[(table.name, table.platform, result.mode)] = (hit, total, result.median_abs_ratio_error(), result.weak())
    lines += ["## Summary", "", "| table | platform | mode | directions (under 1%) | median abs. ratio error |",
              "| --- | --- | --- | ---: | ---: |"]
    for (name, platform, mode), (hit, total, error, weak) in summary.items():
        lines.append(f"| {name} | {platform} | {mode} | {hit} of {total} ({weak}) | {error * 100:.1f}% |")
    for mode in ("eager", "--fuse"):
        hit = sum(v[0] for k, v in summary.items() if k[2] == mode)
        total = sum(v[1] for k, v in summary.items() if k[2] == mode)
        per = {name: (sum(v[0] for k, v in summary.items() if k[0] == name and k[2] == mode),
                      sum(v[1] for k, v in summary.items() if k[0] == name and k[2] == mode)) for name in ("G1", "G2", "G3", "G4")}
        lines.append("")
        lines.append(f"{mode}: {hit} of {total} directions; " + ", ".join(f"{n} {h}/{t} ({h / t * 100:.0f}%)" for n, (h, t) in per.items()))
    density = repvgg_density(specs["gpu"])
    lines += ["", "## RepVGG: computational density on the GTX 1080Ti (2048 -> 2048 channels, 56x56, batch 32)", "",
              "| kernel | effprof TFLOP/s | vs 3x3 |", "| --- | ---: | ---: |"]
    for k, value in density.items():
        lines.append(f"| {k}x{k} | {value:.2f} | {density[3] / value:.2f}x |")
    advantage = density[3] > density[1] and density[3] > density[5]
    lines += ["", f"3x3 densest (the claim: about 4x the density of 1x1 and 5x5): {'yes' if advantage else 'no'}"]
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
