import AutoDiff
import NN

extension Workload {
    /// The BatchNorm2d layers of the CNN-on-MNIST benchmark (issue 15) alone: one epoch's worth
    /// (469 steps) of training-mode forward and backward passes on `[128, 16, 28, 28]` and
    /// `[128, 32, 14, 14]`, running statistics updated, the backward seeded with a fixed
    /// gradient. The metric is the milliseconds of one step (both layers); `seconds` is the
    /// epoch. PyTorch's BatchNorm2d does the same in `../shared/peers`-style timing at 2 threads
    /// for comparison (see the report of the branch that added it).
    func batchNorm() -> Report {
        var generator = RandomGenerator(seed: 0)
        let shapes = [[128, 16, 28, 28], [128, 32, 14, 14]]
        let inputs = shapes.map { Tensor<Float>.randomNormal($0, generator: &generator).requiringGrad() }
        let seeds = shapes.map { Tensor<Float>.randomNormal($0, generator: &generator) }
        let layers = shapes.map { BatchNorm2d<Float>(numFeatures: $0[1]) }
        func step() {
            for ((x, seed), layer) in zip(zip(inputs, seeds), layers) {
                // Cleared first, so the input's gradient is stored rather than added (in a
                // network it would flow on into the layer below, not accumulate).
                x.zeroGrad()
                layer(x).backward(seed: seed)
            }
        }
        for _ in 0..<20 { step() }
        let steps = 469
        let seconds = timed { for _ in 0..<steps { step() } }
        return Report(
            workload: rawValue, seconds: seconds, stepsPerSecond: Double(steps) / seconds, metricName: "ms_per_step",
            metric: seconds / Double(steps) * 1e3)
    }
}
