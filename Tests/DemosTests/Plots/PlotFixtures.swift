import AutoDiff
import Foundation

@testable import Demos

/// Small deterministic inputs for the plot writers.
enum PlotFixtures {
    static func history(epochs: Int = 50) -> [EpochMetrics] {
        (1...epochs).map { epoch in
            let t = Double(epoch)
            return EpochMetrics(
                epoch: epoch, trainLoss: 0.7 * exp(-t / 10) + 0.05, trainAccuracy: 1 - 0.5 * exp(-t / 8),
                validationLoss: 0.7 * exp(-t / 12) + 0.08, validationAccuracy: 0.98 - 0.5 * exp(-t / 9))
        }
    }

    /// Two interleaved half circles, labelled by which one they are on.
    static let moonPoints: [LabeledPoint] = (0..<200).map { index in
        let angle = Double(index % 100) / 99 * Double.pi
        return index < 100
            ? LabeledPoint(x: cos(angle), y: sin(angle), label: 0)
            : LabeledPoint(x: 1 - cos(angle), y: 0.5 - sin(angle), label: 1)
    }

    /// A classifier of `[n, 2]` points: class 1 below a wavy line, 2 in a disk, else 0.
    static func classify(_ points: Tensor<Float>) -> [Int] {
        let s = points.scalars
        return (0..<(s.count / 2)).map { i in
            let x = Double(s[2 * i]), y = Double(s[2 * i + 1])
            if (x - 1.5) * (x - 1.5) + (y - 1) * (y - 1) < 0.1 { return 2 }
            return y < 0.25 + 0.3 * sin(2 * x) ? 1 : 0
        }
    }

    static func digit(_ seed: Int) -> GrayscaleImage {
        GrayscaleImage(pixels: (0..<784).map { index in
            let (row, column) = (index / 28, index % 28)
            let ring = abs(hypot(Double(row) - 14, Double(column) - 14) - Double(6 + seed % 5))
            return UInt8(max(0, 255 - ring * 120).rounded())
        })
    }
}
