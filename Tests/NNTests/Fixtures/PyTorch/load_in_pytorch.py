"""Loads a state_dict that the Swift NN module saved into the PyTorch module it mirrors.

Usage: load_in_pytorch.py MODEL STATE FIXTURE

MODEL    cnn2d or cnn1d (the modules of make_fixtures.py)
STATE    the Swift model's `savePyTorchStateDict` file
FIXTURE  tensors "input" and "expected": the Swift model's evaluation-mode outputs on the input

Exits 0 when `load_state_dict(strict=True)` accepts the file (names, shapes, the I64 counters)
and the module reproduces the outputs within 1e-5; prints the problem and exits 1 otherwise.
Run by PyTorchStateDictTests when PyTorch is importable (never in CI, which has no PyTorch).
"""
import sys

import torch
from safetensors.torch import load_file

from make_fixtures import cnn1d, cnn2d


def main():
    name, state_path, fixture_path = sys.argv[1:4]
    module = {"cnn2d": cnn2d, "cnn1d": cnn1d}[name]()
    state = load_file(state_path)
    for key, value in module.state_dict().items():
        if state[key].dtype != value.dtype:
            print(f"{key}: dtype {state[key].dtype}, PyTorch keeps {value.dtype}", file=sys.stderr)
            return 1
    module.load_state_dict(state, strict=True)
    module.eval()
    fixture = load_file(fixture_path)
    with torch.no_grad():
        output = module(fixture["input"])
    error = (output - fixture["expected"]).abs().max().item()
    if error > 1e-5:
        print(f"outputs differ from the Swift model's by up to {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
