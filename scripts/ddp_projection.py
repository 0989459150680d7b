#!/usr/bin/env python3
"""Projects data-parallel throughput on p machines from one machine's measured step.

Ring all-reduce of S bytes on p machines: T = 2(p-1)/p * S / bandwidth + 2(p-1) * latency.
Buckets go in order; the first starts `window` seconds before backward ends (measured: the rest
of backward after the first bucket is complete), the last when backward ends, so the exposed
communication is max(T_1 - window, 0) + T_2 + ... Each machine keeps its batch of 128 (the
global batch is 128 p), so a step takes compute + exposed, and the group trains
128 p / step images a second.

    python3 scripts/ddp_projection.py
"""

MODELS = {
    # bucket bytes (bench --distributed), one machine's captured step at 2 threads and the
    # window after the first bucket (BENCHMARKS.md, "Distributed training (MPI)").
    "MLP 784-512-128-64-10": {"buckets": [298_280, 1_607_680], "compute": 1.02e-3, "window": 0.32e-3},
    "CNN (2 conv-BN-ReLU-pool, 128, 10)": {"buckets": [808_488, 19_584], "compute": 9.2e-3, "window": 5.5e-3},
}
NETWORKS = {"10 Gbit/s, 20 us": (10e9 / 8, 20e-6), "100 Gbit/s, 5 us": (100e9 / 8, 5e-6)}


def ring(size, p, bandwidth, latency):
    return 2 * (p - 1) / p * size / bandwidth + 2 * (p - 1) * latency


def main():
    print("| model | network | machines | all-reduce / step | exposed | step | images/s | scaling efficiency |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, model in MODELS.items():
        for network, (bandwidth, latency) in NETWORKS.items():
            for p in (1, 2, 8, 32):
                times = [ring(size, p, bandwidth, latency) for size in model["buckets"]]
                exposed = max(times[0] - model["window"], 0) + sum(times[1:]) if p > 1 else 0
                step = model["compute"] + exposed
                print(f"| {name} | {network} | {p} | {sum(times) * 1e3:.2f} ms | {exposed * 1e3:.2f} ms | "
                      f"{step * 1e3:.2f} ms | {128 * p / step:,.0f} | {model['compute'] / step:.0%} |")


if __name__ == "__main__":
    main()
