import AutoDiff
import Foundation
import GradCheck
import Testing

@testable import NN

/// The sum over one process: what a job of one rank's reducer computes, as an op of its own.
private final class OneProcess: BatchStatisticsReducer {
    var calls = 0
    func sumOverProcesses(_ local: Tensor<Double>) -> Tensor<Double> {
        calls += 1
        return Tensor.customOp(
            name: "sum over one process", inputs: [local], forward: { $0[0] * 1 }, vjp: { g, _, _ in [g] })
    }
}

@Suite("BatchNorm with a statistics reducer (SyncBatchNorm's path)")
struct SyncBatchNormTests {
    static var input: Tensor<Double> { Tensor(shape: [3, 2, 4, 5], scalars: (0..<120).map(inputValue)) }
    static var upstream: Tensor<Double> {
        Tensor(shape: [3, 2, 4, 5], scalars: (0..<120).map { cos(0.11 * Double($0)) })
    }

    static func inputValue(_ i: Int) -> Double {
        let wave: Double = sin(0.37 * Double(i)) * 2
        return wave + Double(i % 7) / 3
    }

    @Test("over one process it trains as the fused layer: output, gradients and running statistics")
    func matchesTheFusedLayer() {
        let (fused, synced) = (BatchNorm2d<Double>(numFeatures: 2), BatchNorm2d<Double>(numFeatures: 2))
        let reducer = OneProcess()
        synced.statisticsReducer = reducer
        for layer in [fused, synced] {
            layer.weight!.value = Tensor([1.5, -0.5]).requiringGrad()
            layer.bias!.value = Tensor([0.25, 2]).requiringGrad()
        }
        let upstream = Self.upstream
        var results: [(output: [Double], dx: [Double], dw: [Double], db: [Double])] = []
        for layer in [fused, synced] {
            let x = Self.input.requiringGrad()
            let y = layer(x)
            (y * upstream).sum().backward()
            results.append((y.scalars, x.grad!.scalars, layer.weight!.grad!.scalars, layer.bias!.grad!.scalars))
        }
        // Two sums a forward pass: Σ x with the count, then Σ (x − μ)².
        #expect(reducer.calls == 2)
        for (name, a, b) in [
            ("output", results[0].output, results[1].output), ("∂x", results[0].dx, results[1].dx),
            ("∂weight", results[0].dw, results[1].dw), ("∂bias", results[0].db, results[1].db),
            ("running mean", fused.runningMean!.value.scalars, synced.runningMean!.value.scalars),
            ("running variance", fused.runningVar!.value.scalars, synced.runningVar!.value.scalars),
        ] {
            #expect(a.count == b.count)
            for (x, y) in zip(a, b) { #expect(abs(x - y) <= 1e-12 * (1 + abs(x)), "\(name): \(x) against \(y)") }
        }
        // Evaluation uses the running statistics and never the reducer.
        synced.eval()
        _ = synced(Self.input)
        #expect(reducer.calls == 2)
    }

    @Test("its gradients agree with central differences, with respect to the input, weight and bias")
    func gradientCheck() {
        let layer = BatchNorm2d<Double>(numFeatures: 2, trackRunningStats: false)
        layer.statisticsReducer = OneProcess()
        let upstream = Self.upstream
        let report = GradCheck.check(
            { xs in
                layer.weight!.value = xs[1]
                layer.bias!.value = xs[2]
                return (layer(xs[0]) * upstream).sum()
            }, at: [Self.input, Tensor([1.5, -0.5]), Tensor([0.25, 2])])
        #expect(report.passed, "\(report)")
    }
}
