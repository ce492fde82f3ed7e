"""How fast and how lean is profiling? Prints wall time and peak RSS (a script, not a test).

    python benchmarks/profile_speed.py            # all cases
    python benchmarks/profile_speed.py llama70b   # one case

Each case runs in a fresh subprocess so that peak RSS is its own. Targets (issue 2): the 70B
Llama-style model at sequence 2048 in under 30 s and 2 GB peak RSS on a 2-core, 24 GB machine;
ResNet-50 at batch 32 faster end to end than torch's FlopCounterMode on real tensors.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
import warnings

CASES = ["resnet50_b1", "resnet50_b32", "resnet50_b32_flopcounter", "llama70b"]


def _resnet50():
    from transformers import ResNetConfig, ResNetForImageClassification

    return ResNetForImageClassification(ResNetConfig())  # the default config is ResNet-50


def run_case(name: str) -> dict:
    warnings.filterwarnings("ignore")
    import torch

    from profiler import profile

    start = time.perf_counter()
    if name.startswith("resnet50"):
        batch = 32 if "b32" in name else 1
        if name.endswith("flopcounter"):
            from torch.utils.flop_counter import FlopCounterMode

            model = _resnet50().eval()
            x = torch.randn(batch, 3, 224, 224)
            with torch.no_grad(), FlopCounterMode(display=False) as counter:
                model(pixel_values=x)
            macs = counter.get_total_flops() // 2
        else:
            with torch.device("meta"):
                model = _resnet50()
            report = profile(model, {"pixel_values": torch.empty(batch, 3, 224, 224, device="meta")})
            macs = report.totals.macs
        params = sum(p.numel() for p in model.parameters())
    else:
        from transformers import LlamaConfig, LlamaForCausalLM

        config = LlamaConfig(  # Llama-3-70B shapes
            hidden_size=8192, intermediate_size=28672, num_hidden_layers=80, num_attention_heads=64,
            num_key_value_heads=8, vocab_size=128256, max_position_embeddings=8192,
        )
        with torch.device("meta"):
            model = LlamaForCausalLM(config)
        report = profile(model, {"input_ids": torch.empty(1, 2048, dtype=torch.long, device="meta")})
        macs, params = report.totals.macs, report.totals.params
    seconds = time.perf_counter() - start
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    return {"case": name, "seconds": round(seconds, 2), "peak_rss_mb": round(peak_rss_mb), "macs": macs, "params": params}


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(run_case(sys.argv[2])))
        return
    cases = sys.argv[1:] or CASES
    print(f"{'case':<28}{'seconds':>10}{'peak RSS MB':>14}{'MACs':>22}{'params':>18}")
    for name in cases:
        done = subprocess.run([sys.executable, __file__, "--child", name], capture_output=True, text=True, check=True)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{row['case']:<28}{row['seconds']:>10}{row['peak_rss_mb']:>14}{row['macs']:>22,}{row['params']:>18,}")


if __name__ == "__main__":
    main()
