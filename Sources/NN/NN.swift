import AutoDiff
