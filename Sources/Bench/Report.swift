import AutoDiff
import Foundation

/// One workload's result, printed as one JSON line.
struct Report: Encodable {
    var workload: String
    /// Wall-clock seconds of the timed part (training only; data loading is not timed).
    var seconds: Double
    var stepsPerSecond: Double?
    /// What the metric is (`test_accuracy`, `train_accuracy`, `us_per_op`, …) and its value.
    var metricName: String
    var metric: Double
    var threads = 0
    var peakResidentMB = 0.0
    /// Where the data came from, for the MNIST workloads.
    var data: String?
    /// Resident memory sampled during a long run (the memory workload).
    var residentMBSamples: [Double]?
    /// Per-shape timings (the thin-products workload).
    var products: [ProductTiming]?
    /// Per-layer convolution timings (the conv workload).
    var convolutions: [ConvolutionTiming]?
    /// Fused and composed attention timings (the attention workload).
    var attention: [AttentionTiming]?
    /// Per-shape OpenBLAS and packed-kernel speeds (the gemm workload).
    var gemm: [GemmTiming]?
    /// How training steps ran: `captured` (replayed from a ``CapturedStep``) or `eager`.
    var mode = "eager"
    /// Steps replayed from the capture, and why steps stayed eager when they did.
    var replayedSteps: Int?
    var eagerReason: String?
    /// Kernels of the captured step's plan, and its temporaries' bytes as recorded and as
    /// allocated once memory is shared between temporaries whose lifetimes do not overlap.
    var plannedKernels: Int?
    var temporaryBytesRecorded: Int?
    var temporaryBytesAllocated: Int?
    /// The gradient exchange of a `--distributed` run.
    var exchange: ExchangeTiming?

    /// The report with what `step` did: replayed steps, the reason it stayed eager, its plan.
    func describing<each Input, Output>(_ step: CapturedStep<repeat each Input, Output>) -> Report {
        var report = self
        report.replayedSteps = step.replayedCalls
        report.eagerReason = step.eagerReason
        if step.plannedKernelCount > 0 {
            report.plannedKernels = step.plannedKernelCount
            report.temporaryBytesRecorded = step.plannedTemporaryBytes.recorded
            report.temporaryBytesAllocated = step.plannedTemporaryBytes.allocated
        }
        return report
    }

    func jsonLine() -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }
}

/// The process's peak resident set size (getrusage reports kilobytes on Linux).
func peakResidentMegabytes() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// The process's current resident set size, from /proc/self/statm.
func currentResidentMegabytes() -> Double {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    return Double(Int(fields[1]) ?? 0) * Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
}

/// Seconds taken by `body`.
func timed(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}
