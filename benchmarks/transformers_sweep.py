"""Profile every model class of the installed `transformers`, each built from its default config.

    python benchmarks/transformers_sweep.py                       # base models, 60 s each at most
    python benchmarks/transformers_sweep.py --heads --limit 200   # every class of every auto mapping
    python benchmarks/transformers_sweep.py --only bert,gpt2 --json sweep.json

Each class is built under `torch.device("meta")` from `ConfigClass()` and profiled on dummy
inputs chosen from its forward signature (token ids, pixels, audio samples or features). When a
model cannot run on meta, it is rebuilt on the CPU and profiled on real tensors, up to
--cpu-max-params. Every class gets one status line:

  ok            profiled, every op has a formula
  ok-cpu        the same, on real CPU tensors (the meta run failed)
  ok-eager      on meta with transformers' eager attention, after the SDPA one needed a CPU run
                too large for --cpu-max-params (transformers' SDPA mask helper reads a value)
  UNSUPPORTED   profiled, but some ops have no formula (listed): the totals are a lower bound
  skip          the class cannot be built or fed here (a missing extra dependency, a config that
                needs arguments, inputs this script cannot guess); the reason is printed
  bad-input     the model rejects the dummy inputs (this script's guess, not effprof's count)
  fail          effprof raised on a model that builds and takes the inputs: worth a look
  timeout       over --timeout seconds

The summary lists every unsupported op with the classes that call it. Not part of CI (it takes
tens of minutes on a laptop); docs/coverage.md records the figures of a run.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import signal
import sys
import time
import traceback
import warnings
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from profiler.api import profile_loaded  # noqa: E402
from profiler.errors import EffprofError, InputMismatchError  # noqa: E402
from profiler.loading import LoadedModel  # noqa: E402
from profiler.tracing import ModelInputs  # noqa: E402

BATCH, TOKENS, DECODER_TOKENS = 1, 16, 8


class Timeout(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    def expire(signum: int, frame: Any) -> None:
        raise Timeout(f"over {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def classes(heads: bool) -> list[tuple[str, str]]:
    """(model_type, class name) pairs: the base model of every config, or every auto-mapped class."""
    from transformers.models.auto import modeling_auto

    tables = [modeling_auto.MODEL_MAPPING_NAMES]
    if heads:
        tables += [getattr(modeling_auto, n) for n in sorted(dir(modeling_auto))
                   if n.endswith("_MAPPING_NAMES") and n != "MODEL_MAPPING_NAMES"]
    found: dict[str, str] = {}
    for table in tables:
        for model_type, names in table.items():
            for name in names if isinstance(names, (list, tuple)) else [names]:
                found.setdefault(name, model_type)
    return [(model_type, name) for name, model_type in found.items()]


def _sub(config: Any, *names: str) -> Any:
    for name in names:
        sub = getattr(config, name, None)
        if sub is not None and not isinstance(sub, dict):
            return sub
    return config


def _size(value: Any, default: int) -> tuple[int, int]:
    if isinstance(value, (list, tuple)) and len(value) >= 2:
        return int(value[-2]), int(value[-1])
    if isinstance(value, dict):
        return int(value.get("height", default)), int(value.get("width", default))
    size = int(value) if isinstance(value, int) else default
    return size, size


def dummy_inputs(model: torch.nn.Module, config: Any) -> dict[str, torch.Tensor]:
    """Inputs the forward names, sized from the config; raises ValueError when none is known."""
    params = inspect.signature(model.forward).parameters
    text = _sub(config, "text_config", "decoder", "language_config", "llm_config")
    vision = _sub(config, "vision_config", "encoder", "image_config")
    vocab = int(getattr(text, "vocab_size", None) or getattr(config, "vocab_size", None) or 100)
    inputs: dict[str, torch.Tensor] = {}
    main = getattr(model, "main_input_name", "input_ids")
    if "input_ids" in params and (main == "input_ids" or "pixel_values" not in params):
        # no attention_mask: an all-ones mask adds nothing, and transformers tests it with .item()
        inputs["input_ids"] = torch.randint(0, min(vocab, 100), (BATCH, TOKENS))
    if "pixel_values" in params and main in ("pixel_values", "input_ids"):
        channels = int(getattr(vision, "num_channels", None) or getattr(config, "num_channels", 3) or 3)
        height, width = _size(getattr(vision, "image_size", None) or getattr(config, "image_size", None), 224)
        inputs["pixel_values"] = torch.randn(BATCH, channels, height, width)
    if main == "input_values" and "input_values" in params:
        inputs["input_values"] = torch.randn(BATCH, 16000)
    if main == "input_features" and "input_features" in params:
        bins = int(getattr(config, "num_mel_bins", None) or getattr(config, "feature_size", None) or 80)
        frames = 2 * int(getattr(config, "max_source_positions", 0) or 50)
        inputs["input_features"] = torch.randn(BATCH, bins, frames)
    if getattr(config, "is_encoder_decoder", False) and "decoder_input_ids" in params:
        inputs["decoder_input_ids"] = torch.randint(0, min(vocab, 100), (BATCH, DECODER_TOKENS))
    if not inputs or main not in inputs and main in params:
        raise ValueError(f"no dummy input for main input '{main}'")
    return inputs


def build(class_name: str, model_type: str, device: str, attention: str | None = None) -> tuple[torch.nn.Module, Any]:
    import transformers
    from transformers import CONFIG_MAPPING

    config = CONFIG_MAPPING[model_type]()
    if attention is not None:
        config._attn_implementation = attention
    cls = getattr(transformers, class_name)
    with torch.device(device):
        model = cls(config)
    return model.eval(), config


def run_one(model_type: str, class_name: str, timeout: int, cpu_max_params: int) -> dict[str, Any]:
    """One class; a model too large for the CPU fallback gets a second meta run with eager
    attention (transformers' SDPA mask helper calls .item(), which meta cannot answer)."""
    row = _run_one(model_type, class_name, timeout, cpu_max_params, None)
    if row["status"] == "fail" and ("--cpu-max-params" in row.get("reason", "") or "too large to fall back" in row.get("reason", "")):
        eager = _run_one(model_type, class_name, timeout, cpu_max_params, "eager")
        if eager["status"] not in ("fail", "timeout", "skip", "bad-input"):
            eager["status"] += "-eager"
            return eager
    return row


def _run_one(model_type: str, class_name: str, timeout: int, cpu_max_params: int, attention: str | None) -> dict[str, Any]:
    started = time.perf_counter()
    row: dict[str, Any] = {"class": class_name, "model_type": model_type}
    try:
        with time_limit(timeout):
            try:
                model, config = build(class_name, model_type, "meta", attention)
                inputs = dummy_inputs(model, config)
            except Timeout:
                raise
            except Exception as error:  # noqa: BLE001 - a class this script cannot build or feed
                row.update(status="skip", reason=f"{type(error).__name__}: {_first_line(error)}")
                return row
            params = sum(p.numel() for p in model.parameters())

            def rebuild_real() -> tuple[torch.nn.Module, ModelInputs]:
                if params > cpu_max_params:
                    raise EffprofError(f"CPU fallback skipped: {params / 1e6:.0f}M params > --cpu-max-params")
                real, _ = build(class_name, model_type, "cpu", attention)
                return real, ModelInputs((), inputs)

            loaded = LoadedModel(model, ModelInputs((), inputs), class_name, list(inputs), rebuild_real=rebuild_real)
            report = profile_loaded(loaded)
    except Timeout as error:
        row.update(status="timeout", reason=str(error))
        return row
    except InputMismatchError as error:
        row.update(status="bad-input", reason=_first_line(error))
        return row
    except EffprofError as error:
        row.update(status="fail", reason=_first_line(error))
        return row
    except Exception as error:  # noqa: BLE001 - an effprof crash: recorded with its last frame
        frame = traceback.extract_tb(error.__traceback__)[-1]
        row.update(status="fail", reason=f"internal {type(error).__name__}: {_first_line(error)} "
                                         f"({Path(frame.filename).name}:{frame.lineno})")
        return row
    finally:
        row["seconds"] = round(time.perf_counter() - started, 2)
    row.update(
        status="UNSUPPORTED" if report.unsupported_ops else ("ok-cpu" if report.device == "cpu" else "ok"),
        device=report.device,
        params=report.totals.params,
        macs=report.totals.macs,
        unsupported=dict(report.unsupported_ops),
        inputs={k: list(v.shape) for k, v in inputs.items()},
    )
    return row


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:200]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--heads", action="store_true", help="every auto-mapped class, not only base models")
    parser.add_argument("--only", default="", help="comma-separated model types or class names")
    parser.add_argument("--limit", type=int, default=0, help="stop after this many classes (0: all)")
    parser.add_argument("--skip", type=int, default=0, help="start after this many classes (to split a sweep)")
    parser.add_argument("--timeout", type=int, default=60, help="seconds per class")
    parser.add_argument("--cpu-max-params", type=int, default=300_000_000)
    parser.add_argument("--json", type=Path, help="write every row here")
    args = parser.parse_args()

    import transformers

    transformers.logging.set_verbosity_error()
    warnings.simplefilter("ignore")
    torch.manual_seed(0)
    todo = classes(args.heads)
    if args.only:
        wanted = set(args.only.split(","))
        todo = [(t, c) for t, c in todo if t in wanted or c in wanted]
    todo = todo[args.skip:]
    if args.limit:
        todo = todo[: args.limit]
    print(f"transformers {transformers.__version__}, torch {torch.__version__}: {len(todo)} classes", flush=True)
    rows = []
    started = time.perf_counter()
    for index, (model_type, class_name) in enumerate(todo, 1):
        row = run_one(model_type, class_name, args.timeout, args.cpu_max_params)
        rows.append(row)
        detail = row.get("reason") or ", ".join(f"{op} x{n}" for op, n in row.get("unsupported", {}).items())
        print(f"[{index}/{len(todo)}] {row['status']:<11} {class_name} ({row['seconds']} s) {detail}", flush=True)

    statuses = Counter(row["status"] for row in rows)
    users: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        for op in row.get("unsupported", {}):
            users[op].append(row["class"])
    print(f"\n{len(rows)} classes in {time.perf_counter() - started:.0f} s: "
          + ", ".join(f"{n} {s}" for s, n in statuses.most_common()))
    for op, names in sorted(users.items(), key=lambda item: -len(item[1])):
        print(f"  {op}: {len(names)} classes ({', '.join(names[:6])}{', ...' if len(names) > 6 else ''})")
    skips = Counter(row["reason"].split(":")[0] for row in rows if row["status"] == "skip")
    if skips:
        print("skipped: " + ", ".join(f"{n} {why}" for why, n in skips.most_common()))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
