"""Makes the PyTorch state_dict fixtures of Tests/NNTests/PyTorchStateDictTests.swift.

Run once with PyTorch and safetensors installed (the tests never run it; CI has no PyTorch):

    python3 make_fixtures.py            # writes the .safetensors files beside this script

Two models built from every layer the NN module mirrors, in PyTorch's own module layout, with
BatchNorm running statistics from three training-mode passes and every affine parameter moved
away from its initial value, then saved with `safetensors.torch.save_file(model.state_dict())`:

  cnn2d   Conv2d(2→4, 3, pad 1) BatchNorm2d ReLU MaxPool2d(2)
          Conv2d(4→4, 3, pad same, groups 2, no bias) GroupNorm(2, 4) GELU
          AvgPool2d(2, stride 1) AdaptiveAvgPool2d(2) Flatten Linear(16→8) LayerNorm(8) SiLU
          Dropout(0.25) Linear(8→3) LogSoftmax
  cnn1d   Conv1d(3→6, 3, stride 2, pad 1, dilation 1) BatchNorm1d(6) ELU
          Conv1d(6→6, 3, pad 2, dilation 2, groups 6) LeakyReLU(0.1) GELU(tanh) Flatten
          Linear(24→5) BatchNorm1d(5) Softmax

`expected.safetensors` holds each model's input (`cnn2d.input` [3, 2, 8, 8], `cnn1d.input`
[3, 3, 8]) and its outputs in evaluation mode (`cnn2d.output`, `cnn1d.output`), in float32.
"""
import os

import torch
import torch.nn as nn
from safetensors.torch import save_file

here = os.path.dirname(os.path.abspath(__file__))


def cnn2d():
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 4, 3, padding="same", groups=2, bias=False), nn.GroupNorm(2, 4), nn.GELU(),
        nn.AvgPool2d(2, stride=1), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, 8),
        nn.LayerNorm(8), nn.SiLU(), nn.Dropout(0.25), nn.Linear(8, 3), nn.LogSoftmax(dim=1))


def cnn1d():
    return nn.Sequential(
        nn.Conv1d(3, 6, 3, stride=2, padding=1), nn.BatchNorm1d(6), nn.ELU(),
        nn.Conv1d(6, 6, 3, padding=2, dilation=2, groups=6), nn.LeakyReLU(0.1),
        nn.GELU(approximate="tanh"), nn.Flatten(), nn.Linear(24, 5), nn.BatchNorm1d(5),
        nn.Softmax(dim=1))


def prepare(model, input_shape):
    """Running statistics from three training passes; affine parameters off their defaults."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("weight") and p.dim() == 1:  # norm scales start at 1
                p.copy_(1 + 0.3 * torch.randn_like(p))
            elif name.endswith("bias") and p.dim() == 1:
                p.copy_(0.2 * torch.randn_like(p))
        model.train()
        for _ in range(3):
            model(2 * torch.randn(*input_shape) + 0.5)
    model.eval()
    return model


def main():
    torch.manual_seed(0)
    expected = {}
    for name, build, shape in (("cnn2d", cnn2d, (3, 2, 8, 8)), ("cnn1d", cnn1d, (3, 3, 8))):
        model = prepare(build(), shape)
        x = torch.randn(*shape)
        with torch.no_grad():
            y = model(x)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, os.path.join(here, f"{name}.safetensors"))
        expected[f"{name}.input"] = x
        expected[f"{name}.output"] = y
    save_file(expected, os.path.join(here, "expected.safetensors"))


if __name__ == "__main__":
    main()
