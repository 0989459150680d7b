"""Cross-checks the Swift NN module's safetensors files against NumPy.

Usage: interop.py MODEL FIXTURE OUT

MODEL    parameters saved by the Swift test (`Sequential.saveParameters`) of the network
         Linear(3, 5) -> Tanh -> Linear(5, 4) -> ReLU -> Linear(4, 2), weights [in, out].
FIXTURE  tensors "input" [N, 3] and "expected" [N, 2]: the Swift model's outputs on the input.
OUT      where to write parameters of the same network from Python, for Swift to load.

Exits 0 when NumPy reproduces the outputs within 1e-5; prints the problem and exits 1 otherwise.
"""
import sys

import numpy as np
from safetensors.numpy import load_file, save_file


def forward(p, x):
    h = np.tanh(x @ p["layers.0.weight"] + p["layers.0.bias"])
    h = np.maximum(h @ p["layers.2.weight"] + p["layers.2.bias"], 0)
    return h @ p["layers.4.weight"] + p["layers.4.bias"]


def main():
    model_path, fixture_path, out_path = sys.argv[1:4]
    params = {k: v.astype(np.float64) for k, v in load_file(model_path).items()}
    expected_names = {f"layers.{i}.{k}" for i in (0, 2, 4) for k in ("weight", "bias")}
    if set(params) != expected_names:
        print(f"unexpected tensor names {sorted(params)}", file=sys.stderr)
        return 1
    fixture = load_file(fixture_path)
    y = forward(params, fixture["input"].astype(np.float64))
    error = float(np.max(np.abs(y - fixture["expected"])))
    if not error <= 1e-5:
        print(f"outputs differ from Swift's by {error}", file=sys.stderr)
        return 1

    shapes = {"layers.0.weight": (3, 5), "layers.0.bias": (5,), "layers.2.weight": (5, 4),
              "layers.2.bias": (4,), "layers.4.weight": (4, 2), "layers.4.bias": (2,)}
    out = {}
    for name, shape in shapes.items():
        n = int(np.prod(shape))
        out[name] = (np.arange(n, dtype=np.float32) * np.float32(0.01) - np.float32(0.1)).reshape(shape)
    out["layers.4.bias"] = out["layers.4.bias"].astype(np.float64)  # a mixed-dtype file
    save_file(out, out_path, metadata={"writer": "python"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
