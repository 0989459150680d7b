#!/usr/bin/env python3
"""Runs each performance workload with this project's `bench` and with the PyTorch peer script,
one after the other, and prints a Markdown table with the ratios.

Usage (from the package root, after `swift build -c release --product bench`):
    python3 scripts/side_by_side.py [--python /tmp/peers/bin/python] [--data ../shared/data/mnist] [workload ...]

The peer needs PyTorch in a throw-away environment (see ../shared/peers/README.md); nothing in the
project depends on it. Each row is measured in one sitting, alternating ours and the peer's
`--repeats` times (default 3). The ratio compares the best run of each side, so that a burst of
load from elsewhere (this machine's run-to-run spread is up to 1.5×) does not decide it; the
medians are printed too.

Training workloads run ours twice per repeat: with the captured step (bench's default) and with
`--eager`; the table gives both, and the ratio to PyTorch is the captured one.
"""
import argparse, json, os, statistics, subprocess, sys

WORKLOADS = ["op-overhead", "moons", "spiral", "mnist-b128", "mnist-seed004", "cnn-mnist", "gpt-words"]
# Workloads whose peer is torch_models.py (the CNN and the transformer) rather than --peer.
MODEL_WORKLOADS = {"cnn-mnist", "gpt-words"}
# Workloads that train through a captured step (also run with --eager for comparison).
TRAINING_WORKLOADS = {"moons", "spiral", "mnist-b128", "mnist-seed004", "cnn-mnist", "gpt-words"}


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
    parser.add_argument("--model-peer", default="../shared/peers/torch_models.py")
    parser.add_argument("--data", default="../shared/data/mnist")
    parser.add_argument("--bench", default=".build/release/bench")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    env = dict(os.environ, DATA_ROOT=args.data)
    rows = []
    for w in args.workloads:
        ours, eager, peer = [], [], []
        for _ in range(args.repeats):
            ours.append(run([args.bench, w, "--data", args.data]))
            if w in TRAINING_WORKLOADS:
                eager.append(run([args.bench, w, "--data", args.data, "--eager"]))
            peer.append(run([args.python, args.model_peer if w in MODEL_WORKLOADS else args.peer, w], env))
        key = (lambda r: r["metric"]) if w == "op-overhead" else (lambda r: r["seconds"])
        peer_key = lambda r: r["seconds"]  # the peer reports µs/op in "seconds" for op-overhead
        rows.append((w, min(ours, key=key), min(peer, key=peer_key),
                     statistics.median(map(key, ours)), statistics.median(map(peer_key, peer)),
                     min(eager, key=key) if eager else None))
        print(json.dumps({"workload": w, "ours": ours, "eager": eager, "peer": peer}), file=sys.stderr)
    print("| workload | this project (best; median) | ours eager (best) | PyTorch (best; median) | ratio of bests "
          "| ratio of medians | ours: metric | PyTorch: metric | ours: peak RSS |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for w, ours, peer, ours_median, peer_median, eager in rows:
        if w == "op-overhead":
            a, b = ours["metric"], peer["seconds"]
            print(f"| {w} | {a:.2f}; {ours_median:.2f} µs/op | (eager) | {b:.2f}; {peer_median:.2f} µs/op "
                  f"| {b / a:.1f}× | {peer_median / ours_median:.1f}× | | | {ours['peak_resident_mb']:.0f} MB |")
        else:
            a, b = ours["seconds"], peer["seconds"]
            pm = peer["metric"]
            pm = f"{pm:.4f}" if isinstance(pm, float) else "—"
            e = f"{eager['seconds']:.2f} s" if eager else "—"
            print(f"| {w} | {a:.2f}; {ours_median:.2f} s | {e} | {b:.2f}; {peer_median:.2f} s | {b / a:.1f}× "
                  f"| {peer_median / ours_median:.1f}× | {ours['metric_name']} {ours['metric']:.4f} | {pm} "
                  f"| {ours['peak_resident_mb']:.0f} MB |")

if __name__ == "__main__":
    main()
