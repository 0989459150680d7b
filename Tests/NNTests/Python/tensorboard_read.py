"""Reads a folder of TensorBoard event files with the tensorboard package's own readers and prints
what they hold as one JSON object, for TensorBoardTests.swift (and .ci/run) to check:

  {"files": N, "events": N, "file_version": "brain.Event:2",
   "scalars": {tag: [[step, value], ...]},
   "histograms": {tag: [[step, min, max, num, sum, sum_squares, [limits], [counts]], ...]}}

"events" counts every record EventFileLoader read: a record whose CRC fails stops its reading,
so a wrong checksum shows as a smaller count. The scalars and histograms come from
EventAccumulator, the path TensorBoard's own dashboards load runs through.

Usage: python3 tensorboard_read.py DIR
"""
import glob
import json
import os
import sys

from tensorboard.backend.event_processing import event_file_loader
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def main(folder):
    paths = sorted(glob.glob(os.path.join(folder, "events.out.tfevents.*")))
    events = 0
    file_version = None
    for path in paths:
        for event in event_file_loader.LegacyEventFileLoader(path).Load():
            events += 1
            if event.HasField("file_version"):
                file_version = file_version or event.file_version
    accumulator = EventAccumulator(folder, size_guidance={"scalars": 0, "histograms": 0})
    accumulator.Reload()
    tags = accumulator.Tags()
    scalars = {
        tag: [[s.step, s.value] for s in accumulator.Scalars(tag)] for tag in tags["scalars"]
    }
    histograms = {
        tag: [
            [
                h.step,
                h.histogram_value.min,
                h.histogram_value.max,
                h.histogram_value.num,
                h.histogram_value.sum,
                h.histogram_value.sum_squares,
                list(h.histogram_value.bucket_limit),
                list(h.histogram_value.bucket),
            ]
            for h in accumulator.Histograms(tag)
        ]
        for tag in tags["histograms"]
    }
    print(
        json.dumps(
            {
                "files": len(paths),
                "events": events,
                "file_version": file_version,
                "scalars": scalars,
                "histograms": histograms,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
