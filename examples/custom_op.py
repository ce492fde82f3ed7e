"""A custom op of your own (`mylib::fused_gelu`, defined with torch.library) and its cost formula.

effprof counts aten and prims ops with its built-in formulas; any other op is listed as
unsupported, never guessed. Registering a formula for it with `profiler.register_op` makes it
counted like any other op, in the Python API and in the CLI (which runs this file's top level):

    python examples/custom_op.py
    effprof examples/custom_op.py --hw a4000
"""

import torch
from torch import nn
from torch.nn import functional as F

import profiler
from profiler import OpCost, OpEvent


# The op: bias add then tanh-GELU in one kernel. Its fake implementation gives the output's shape
# and dtype without computing anything, which is all effprof needs (it traces on the meta device).
@torch.library.custom_op("mylib::fused_gelu", mutates_args=())
def fused_gelu(x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return F.gelu(x + bias, approximate="tanh")


@fused_gelu.register_fake
def _(x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x)


# Its cost: a pure function of the call's shapes and dtypes (`event.args` holds a TensorMeta
# for each tensor argument, `event.outputs` one per output). One add and one GELU per output
# element, as effprof counts elementwise ops; x and bias read once, the output written once (the
# sum stays in registers: that is the point of fusing).
@profiler.register_op("mylib::fused_gelu")
def fused_gelu_cost(event: OpEvent) -> OpCost:
    x, bias = event.args[0], event.args[1]
    out = event.outputs[0]
    return OpCost(flops=2 * out.numel, bytes_read=x.nbytes + bias.nbytes, bytes_written=out.nbytes)


class Mlp(nn.Module):
    """A transformer MLP whose first projection's bias and GELU run as the one fused op."""

    def __init__(self, dim: int = 768, hidden: int = 3072) -> None:
        super().__init__()
        self.up = nn.Linear(dim, hidden, bias=False)
        self.up_bias = nn.Parameter(torch.zeros(hidden))
        self.down = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(fused_gelu(self.up(x), self.up_bias))


def build_model() -> nn.Module:
    return Mlp()


def example_inputs() -> torch.Tensor:
    return torch.randn(8, 128, 768)


if __name__ == "__main__":
    report = profiler.profile(build_model(), example_inputs())
    print(report)
