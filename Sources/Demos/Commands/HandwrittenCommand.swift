import ArgumentParser
import Foundation
import GradCheck

/// `demos handwritten`: three hand-written backward passes from the wild, diagnosed, fixed, and
/// trained against autodiff.
struct HandwrittenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "handwritten",
        abstract: "Diagnose hand-written backpropagation against the tape, fix it, and train it three ways.",
        discussion: """
            Three cases, each written the way its author wrote it: moons (2-8-8-1 on make_moons, \
            every parameter gradient divided by the batch size twice), bias-sum (2-3-2, bias \
            gradients summed into one scalar, nothing divided by N) and sigmoid-derivative (3-2-1, \
            x·(1−x) handed the pre-activation). For each: GradCheck's diagnosis, the fixes it \
            points to (the first wrong tensor each time), and epochs to 0.95 training accuracy \
            trained with the gradients as written, as fixed, and from autodiff. Writes \
            handwritten-<case>.svg with the three loss curves.
            """)

    @Option(
        name: .customLong("case"),
        help: "One case; one of \(HandwrittenDemo.caseNames.joined(separator: ", ")). (default: all three)")
    var caseName: String?

    @Option(
        parsing: .unconditional,
        help:
            "Epochs for every way of training; an integer ≥ 1. (default: each case's own: moons 150, bias-sum 150, sigmoid-derivative 400)"
    )
    var epochs: Int?

    @Option(
        parsing: .unconditional,
        help: "Random seed for data and initialization; an integer in [0, 2^64).")
    var seed: UInt64 = 42

    @OptionGroup var plotOptions: PlotOptions

    @Flag(help: "Print exactly one JSON line with the report, and nothing else, on standard output. (default: off)")
    var json = false

    func validate() throws {
        if let caseName, !HandwrittenDemo.caseNames.contains(caseName) {
            throw ValidationError(
                "--case '\(caseName)' is not a case: expected \(AllowedValues.byOption["--case"]!)")
        }
        if let epochs, epochs < 1 { throw AllowedValues.outOfRange("--epochs", epochs) }
    }

    func run() throws {
        let start = Date()
        var cases: [HandwrittenReport.CaseReport] = []
        var files: [String] = []
        for name in caseName.map({ [$0] }) ?? HandwrittenDemo.caseNames {
            guard let handwrittenCase = HandwrittenDemo.makeCase(name, seed: seed) else { continue }
            let report = HandwrittenDemo.report(
                handwrittenCase, epochs: epochs ?? handwrittenCase.defaultEpochs, seed: seed)
            var written: [String] = []
            if let directory = plotOptions.directory {
                let path = (directory as NSString).appendingPathComponent("handwritten-\(name).svg")
                do {
                    try AtomicFile.write(HandwrittenDemo.lossChart(report).svg(), to: path)
                } catch {
                    throw DemoError.message("--plot: \(error)")
                }
                written.append(path)
            }
            if !json {
                print(HandwrittenReport.textBlock(report, target: HandwrittenDemo.targetAccuracy, files: written))
                print()
            }
            cases.append(report)
            files += written
        }
        let seconds = (Date().timeIntervalSince(start) * 1000).rounded() / 1000
        let report = HandwrittenReport(
            seed: seed, targetAccuracy: HandwrittenDemo.targetAccuracy, cases: cases, seconds: seconds, files: files)
        if json {
            print(report.jsonLine())
        } else {
            print(
                "handwritten: \(cases.count) case\(cases.count == 1 ? "" : "s") in \(Format.seconds(seconds)) (seed \(seed))"
            )
        }
    }
}

extension HandwrittenDemo {
    /// Diagnosis, fixes, and the three trainings of one case.
    static func report(_ handwrittenCase: any HandwrittenCase, epochs: Int, seed: UInt64)
        -> HandwrittenReport.CaseReport
    {
        let (initial, fixes, final) = diagnoseAndFix(handwrittenCase)
        let runs: [(String, GradientSource)] = [
            ("as written", .handWritten(HandwrittenFixes())), ("fixed", .handWritten(fixes)), ("autodiff", .autodiff),
        ]
        return HandwrittenReport.CaseReport(
            name: handwrittenCase.name, title: handwrittenCase.title, epochs: epochs,
            learningRate: handwrittenCase.learningRate, batchSize: handwrittenCase.batchSize, diagnosis: initial,
            fixes: fixes.log, afterFixes: final,
            runs: runs.map { way, source in
                HandwrittenReport.Way(
                    way: way, run: train(handwrittenCase, gradients: source, epochs: epochs, seed: seed))
            })
    }

    /// The training loss of the three ways, per epoch, in one chart.
    static func lossChart(_ report: HandwrittenReport.CaseReport) -> LineChart {
        LineChart(
            title: "handwritten \(report.name): training loss", xLabel: "epoch", yLabel: "loss",
            series: report.runs.enumerated().map { index, way in
                LineChart.Series(
                    name: way.way, color: Palette.color(index),
                    points: way.losses.enumerated().map { (x: Double($0.offset + 1), y: $0.element) },
                    dashed: way.way == "autodiff")
            },
            includeZero: true)
    }
}
