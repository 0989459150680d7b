#!/usr/bin/env python3
"""Runs each performance workload with this project's `bench` and with the PyTorch peer script,
one after the other, and prints a Markdown table with the ratios.

Usage (from the package root, after `swift build -c release --product bench`):
    python3 scripts/side_by_side.py [--python /tmp/peers/bin/python] [--data ../shared/data/mnist] [workload ...]

The peer needs PyTorch in a throw-away environment (see ../shared/peers/README.md); nothing in the
project depends on it. Each row is measured in one sitting: ours, then the peer's, then ours again,
keeping our faster run (and the peer's single run), so that a burst of load from elsewhere does
not decide a ratio.
"""
import argparse, json, os, subprocess, sys

WORKLOADS = ["op-overhead", "moons", "spiral", "mnist-b128", "mnist-seed004"]


def run(cmd, env=None):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("workloads", nargs="*", default=WORKLOADS)
    parser.add_argument("--python", default="/tmp/peers/bin/python")
    parser.add_argument("--peer", default="../shared/peers/torch_workloads.py")
    parser.add_argument("--data", default="../shared/data/mnist")
    parser.add_argument("--bench", default=".build/release/bench")
    args = parser.parse_args()
    env = dict(os.environ, DATA_ROOT=args.data)
    rows = []
    for w in args.workloads:
        ours = [run([args.bench, w, "--data", args.data])]
        peer = run([args.python, args.peer, w], env)
        ours.append(run([args.bench, w, "--data", args.data]))
        best = min(ours, key=lambda r: r["metric"] if w == "op-overhead" else r["seconds"])
        rows.append((w, best, peer))
        print(json.dumps({"workload": w, "ours": best, "peer": peer}), file=sys.stderr)
    print("| workload | this project | PyTorch | ratio (PyTorch / ours) | ours: metric | PyTorch: metric | ours: peak RSS |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for w, ours, peer in rows:
        if w == "op-overhead":
            a, b = ours["metric"], peer["seconds"]
            print(f"| {w} | {a:.2f} µs/op | {b:.2f} µs/op | {b / a:.1f}× | | | {ours['peak_resident_mb']:.0f} MB |")
        else:
            a, b = ours["seconds"], peer["seconds"]
            pm = peer["metric"]
            pm = f"{pm:.4f}" if isinstance(pm, float) else "—"
            print(f"| {w} | {a:.2f} s | {b:.2f} s | {b / a:.1f}× | {ours['metric_name']} {ours['metric']:.4f} | {pm} | {ours['peak_resident_mb']:.0f} MB |")


if __name__ == "__main__":
    main()
