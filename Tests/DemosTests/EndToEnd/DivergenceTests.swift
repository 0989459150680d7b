import Foundation
import Testing

/// A run whose training loss becomes NaN or infinite stops at once with one line naming the
/// epoch, the step and what to try, instead of training on NaN and exiting 0.
@Suite("Divergence")
struct DivergenceTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var arguments: [String]
        var testDescription: String { arguments.joined(separator: " ") }
    }

    @Test(
        "a diverging run exits 1 with one line naming the epoch and the step",
        arguments: [
            Case(arguments: ["moons", "--lr", "1e308"]),
            Case(arguments: ["spiral", "--lr", "1e10", "--optimizer", "sgd", "--epochs", "3"]),
        ])
    func divergenceIsOneLine(_ testCase: Case) throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = try DemosBinary.run(testCase.arguments + ["--no-plot", "--quiet"], in: folder)
        #expect(run.exitCode == 1)
        #expect(run.errorLines.count == 1, "stderr: \(run.standardError)")
        #expect(run.standardError.hasPrefix("Error: training diverged: the loss became NaN at epoch 1, step "))
        #expect(run.standardError.contains("try a smaller --lr"))
        #expect(DemoFiles.all(in: folder).isEmpty)
    }
}
