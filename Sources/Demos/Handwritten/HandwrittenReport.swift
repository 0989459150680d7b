import Foundation
import GradCheck

/// What `demos handwritten` found and measured; `--json` prints it as one line.
struct HandwrittenReport: Codable, Sendable {
    var demo = "handwritten"
    var seed: UInt64
    var targetAccuracy: Double
    var cases: [CaseReport]
    /// Wall-clock seconds of the whole run.
    var seconds: Double
    /// Files written, in order.
    var files: [String]

    /// One case: its diagnosis, the fixes that followed from it, and the three trainings.
    struct CaseReport: Codable, Sendable {
        var name: String
        var title: String
        var epochs: Int
        var learningRate: Double
        var batchSize: Int
        /// The diagnosis of the backward as written, at the initial parameters, on the first batch.
        var diagnosis: GradCheck.Diagnosis
        /// The fixes applied, first wrong tensor first.
        var fixes: [String]
        /// The diagnosis after those fixes (clean when they sufficed).
        var afterFixes: GradCheck.Diagnosis
        /// `as written`, `fixed`, `autodiff`, in that order.
        var runs: [Way]
    }

    /// One way of training.
    struct Way: Codable, Sendable {
        var way: String
        /// The first epoch whose training accuracy reached the target; `nil` when none did.
        var epochsToTarget: Int?
        var finalAccuracy: Double
        var bestAccuracy: Double
        var finalLoss: Double
        /// Training loss after each epoch (what the SVG plots).
        var losses: [Double]

        init(way: String, run: TrainingRun) {
            self.way = way
            epochsToTarget = run.epochsToTarget
            finalAccuracy = run.accuracies.last ?? 0
            bestAccuracy = run.accuracies.max() ?? 0
            finalLoss = run.losses.last ?? .nan
            losses = run.losses
        }
    }

    /// One JSON line, keys sorted, non-finite losses as strings.
    func jsonLine() -> String {
        let data = (try? Summary.makeEncoder().encode(self)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// The text the demo prints for one case.
    static func textBlock(_ report: CaseReport, target: Double, files: [String]) -> String {
        var lines = [
            "\(report.name): \(report.title) (gradient descent, lr \(report.learningRate), \(report.epochs) epochs)",
            "diagnosis of the hand-written backward at the initial parameters, first batch:",
        ]
        lines += indented(report.diagnosis.description)
        if !report.fixes.isEmpty {
            lines.append("fixes, the first wrong tensor each time:")
            lines += report.fixes.map { "  " + $0 }
            lines.append("after the fixes:")
            lines += indented(report.afterFixes.description.split(separator: "\n").first.map(String.init) ?? "")
        }
        lines.append(
            "  " + Format.padRight("", 12) + Format.padLeft("epochs to \(Format.fixed(target, 2))", 18)
                + Format.padLeft("accuracy", 10) + Format.padLeft("loss", 10))
        for way in report.runs {
            let epochs = way.epochsToTarget.map(String.init) ?? "not reached"
            lines.append(
                "  " + Format.padRight(way.way, 12) + Format.padLeft(epochs, 18)
                    + Format.padLeft(Format.fixed(way.finalAccuracy, 3), 10)
                    + Format.padLeft(way.finalLoss.isFinite ? Format.fixed(way.finalLoss, 4) : "diverged", 10))
        }
        lines += files.map { "  wrote \($0)" }
        return lines.joined(separator: "\n")
    }

    private static func indented(_ text: String) -> [String] {
        text.split(separator: "\n").map { "  " + $0 }
    }
}
