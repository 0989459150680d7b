import Foundation
import GradCheck
import Testing

@testable import Demos

/// `demos handwritten` end to end: each case's diagnosis names its bug, the fixes it leads to
/// leave no difference, and training with them reaches 0.95 where the gradients as written do not.
@Suite("Handwritten, end to end")
struct HandwrittenRunTests {
    /// One run of all three cases at their defaults (about a second in a debug build), shared.
    static let allCases: Result<HandwrittenReport, any Error> = Result(catching: {
        let run = try DemosBinary.run(["handwritten", "--json", "--no-plot"])
        guard run.exitCode == 0 else { throw DemoError.message("exit \(run.exitCode): \(run.standardError)") }
        let lines = run.standardOutput.split(whereSeparator: \.isNewline)
        guard lines.count == 1 else { throw DemoError.message("expected one JSON line, got: \(run.standardOutput)") }
        return try Summary.makeDecoder().decode(HandwrittenReport.self, from: Data(lines[0].utf8))
    })

    static func report(_ name: String) throws -> HandwrittenReport.CaseReport {
        let report = try allCases.get()
        return try #require(report.cases.first { $0.name == name }, "no case \(name) in \(report.cases.map(\.name))")
    }

    static func way(_ name: String, in report: HandwrittenReport.CaseReport) throws -> HandwrittenReport.Way {
        try #require(report.runs.first { $0.way == name })
    }

    /// Fixed and autodiff reach the target in the same number of epochs (same steps, same data);
    /// as written, never or at least `slower` times later.
    static func expectFixedMatchesAutodiff(_ report: HandwrittenReport.CaseReport, slower: Double) throws {
        #expect(report.runs.map(\.way) == ["as written", "fixed", "autodiff"])
        #expect(report.afterFixes.isClean, "\(report.afterFixes)")
        let fixed = try way("fixed", in: report)
        let autodiff = try way("autodiff", in: report)
        let epochs = try #require(fixed.epochsToTarget, "fixed never reached 0.95 in \(report.name)")
        #expect(autodiff.epochsToTarget == epochs)
        if let asWritten = try way("as written", in: report).epochsToTarget {
            #expect(Double(asWritten) >= slower * Double(epochs), "\(report.name): \(asWritten) vs \(epochs)")
        }
    }

    @Test("moons: every parameter gradient is 1/N of the tape's, N the batch size")
    func moons() throws {
        let report = try HandwrittenRunTests.report("moons")
        let diagnosis = report.diagnosis
        #expect(diagnosis.batchSize == 10)
        #expect(diagnosis.firstWrong == "b3")
        for name in ["b3", "W3", "b2", "W2", "b1", "W1"] {
            let relation = try #require(diagnosis[name]).relation
            #expect(relation.kind == .factor && relation.batchPower == -1, "\(name): \(relation)")
            #expect(abs((relation.factor ?? 0) - 0.1) < 1e-9)
        }
        for name in ["z3", "a2", "z2", "a1", "z1"] { #expect(diagnosis[name]?.matches == true) }
        #expect(report.fixes.count == 6)
        try HandwrittenRunTests.expectFixedMatchesAutodiff(report, slower: 3)
    }

    @Test("bias-sum: nothing divided by N, and bias gradients summed into one scalar")
    func biasSum() throws {
        let report = try HandwrittenRunTests.report("bias-sum")
        let diagnosis = report.diagnosis
        #expect(diagnosis.firstWrong == "z2")
        let z2 = try #require(diagnosis["z2"]).relation
        #expect(z2.kind == .factor && z2.batchPower == 1 && abs((z2.factor ?? 0) - 200) < 1e-9)
        for name in ["b2", "b1"] {
            let finding = try #require(diagnosis[name])
            #expect(finding.handWrittenShape == [])
            #expect(finding.relation.kind == .sumOverAxes && finding.relation.axes == [0], "\(name): \(finding)")
        }
        #expect(report.fixes.count == 3)
        #expect(report.fixes.first?.hasPrefix("z2: multiply by 0.005 (it was N (c = 200, N = 200)") == true)
        #expect(report.fixes.dropFirst().allSatisfy { $0.hasSuffix("sum over the batch axis only") })
        try HandwrittenRunTests.expectFixedMatchesAutodiff(report, slower: 3)
        #expect(try HandwrittenRunTests.way("as written", in: report).bestAccuracy < 0.6)
    }

    @Test("sigmoid-derivative: x·(1−x) handed the pre-activation")
    func sigmoidDerivative() throws {
        let report = try HandwrittenRunTests.report("sigmoid-derivative")
        let diagnosis = report.diagnosis
        #expect(diagnosis.firstWrong == "z2")
        let relation = try #require(diagnosis["z2"]).relation
        #expect(relation.kind == .wrongDerivative && relation.activation == .sigmoid && relation.evaluatedAt == "z2")
        #expect(report.fixes.count == 2)
        try HandwrittenRunTests.expectFixedMatchesAutodiff(report, slower: 3)
        #expect(try HandwrittenRunTests.way("as written", in: report).epochsToTarget == nil)
    }

    @Test("One case as text, with its SVG of the three loss curves")
    func oneCaseAsTextWithPlot() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = try DemosBinary.run(["handwritten", "--case", "bias-sum", "--epochs", "20"], in: folder)
        #expect(run.exitCode == 0, "stderr: \(run.standardError)")
        let text = run.standardOutput
        #expect(text.hasPrefix("bias-sum: "))
        #expect(text.contains("first wrong tensor in backward order: z2 — a constant factor: h = N (c = 200, N = 200)"))
        #expect(text.contains("summed over every axis into one scalar"))
        #expect(!text.contains("moons:") && !text.contains("sigmoid-derivative:"))
        for way in ["as written", "fixed", "autodiff"] {
            #expect(text.contains("\n  \(way) "), "no row for \(way)")
        }
        #expect(DemoFiles.all(in: folder) == ["demos-output/handwritten-bias-sum.svg"])
        let svg = folder.appendingPathComponent("demos-output/handwritten-bias-sum.svg")
        DemoFiles.expectValidSVG(svg)
        let content = try String(contentsOf: svg, encoding: .utf8)
        for way in ["as written", "fixed", "autodiff"] { #expect(content.contains(">\(way)<")) }
    }
}
