import Foundation
import Testing

@testable import Demos

/// `demos moons` and `demos spiral` run end to end with small settings: exit code, progress and
/// summary, the JSON line, the plots, and reproducibility.
@Suite("Moons and spiral, end to end")
struct PlanarRunTests {
    static let quickMoons = ["moons", "--epochs", "5", "--threads", "1"]
    static let quickSpiral = ["spiral", "--epochs", "3", "--hidden", "16", "--batch-size", "300", "--threads", "1"]

    @Test func moonsPrintsProgressSummaryAndWritesBothPlots() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = try DemosBinary.run(PlanarRunTests.quickMoons, in: folder)
        #expect(run.exitCode == 0, "stderr: \(run.standardError)")
        #expect(run.standardError.isEmpty)
        let lines = run.standardOutput.split(whereSeparator: \.isNewline).map(String.init)
        // First the model's summary: each layer with its output shape for a batch, then the total.
        #expect(lines.first?.hasPrefix("Layer (type)") == true)
        #expect(lines.contains { $0.hasPrefix("layers.0 (Linear)") && $0.contains("[64, 16]") && $0.hasSuffix(" 48") })
        #expect(lines.contains("Total parameters: 337"))
        // Standard output is a file here, so progress comes as plain lines, one per epoch at 5 epochs.
        #expect(lines.filter { $0.hasPrefix("epoch ") }.count == 5)
        #expect(lines.contains { $0.hasPrefix("epoch 5/5") && $0.contains("test_acc") })
        #expect(
            lines.contains { $0.hasPrefix("moons: 5 epochs in ") && $0.contains("(seed 42, 337 parameters, 1 thread)") }
        )
        #expect(lines.contains { $0.hasPrefix("  train ") })
        #expect(lines.contains { $0.hasPrefix("  test ") })
        #expect(DemoFiles.all(in: folder) == ["demos-output/moons-curves.svg", "demos-output/moons-regions.svg"])
        for name in ["moons-curves.svg", "moons-regions.svg"] {
            DemoFiles.expectValidSVG(folder.appendingPathComponent("demos-output/\(name)"))
        }
    }

    @Test func moonsJSONIsOneLineWithEveryField() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = try DemosBinary.run(PlanarRunTests.quickMoons + ["--json", "--plot", "plots"], in: folder)
        #expect(run.exitCode == 0, "stderr: \(run.standardError)")
        let summary = try #require(run.summary, "stdout: \(run.standardOutput)")
        #expect(summary.demo == "moons")
        #expect(summary.epochs == 5)
        #expect(summary.seed == 42)
        #expect(summary.parameters == 337)
        #expect(summary.validationAccuracy == nil && summary.validationLoss == nil)
        #expect(summary.threads == 1)
        #expect(summary.files == ["plots/moons-curves.svg", "plots/moons-regions.svg"])
        #expect(summary.seconds > 0)
        for value in [summary.trainLoss, summary.testLoss ?? .nan] { #expect(value.isFinite && value > 0) }
        // Five epochs already separate most of the two moons.
        #expect(summary.trainAccuracy > 0.8)
        #expect(summary.testAccuracy ?? 0 > 0.8)
    }

    @Test func sameSeedGivesSameNumbersAndIdenticalFiles() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let arguments = PlanarRunTests.quickMoons + ["--json", "--dropout", "0.1", "--l2", "1e-4"]
        let first = try DemosBinary.run(arguments + ["--plot", "first", "--save", "first.safetensors"], in: folder)
        let second = try DemosBinary.run(arguments + ["--plot", "second", "--save", "second.safetensors"], in: folder)
        var a = try #require(first.summary)
        var b = try #require(second.summary)
        #expect(a.files.map { $0.replacingOccurrences(of: "first", with: "second") } == b.files)
        (a.seconds, a.files, b.seconds, b.files) = (0, [], 0, [])
        #expect(a == b, "the same seed gave different numbers")
        for name in ["first/moons-curves.svg", "first/moons-regions.svg", "first.safetensors"] {
            let other = name.replacingOccurrences(of: "first", with: "second")
            let x = try Data(contentsOf: folder.appendingPathComponent(name))
            let y = try Data(contentsOf: folder.appendingPathComponent(other))
            #expect(x == y, "\(name) and \(other) differ")
        }
        let otherSeed = try #require(try DemosBinary.run(arguments + ["--no-plot", "--seed", "7"], in: folder).summary)
        #expect(otherSeed.trainLoss != a.trainLoss, "another seed should give other numbers")
    }

    @Test func quietPrintsOnlyTheSummaryAndNoPlotWritesNothing() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = try DemosBinary.run(PlanarRunTests.quickMoons + ["--quiet", "--no-plot"], in: folder)
        #expect(run.exitCode == 0)
        #expect(run.standardOutput.hasPrefix("moons: 5 epochs in "))
        #expect(!run.standardOutput.contains("epoch 1/5"))
        #expect(!run.standardOutput.contains("wrote"))
        #expect(DemoFiles.all(in: folder).isEmpty)
    }

    @Test func everyOptimizerTrains() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        for optimizer in OptimizerChoice.allCases {
            let run = try DemosBinary.run(
                PlanarRunTests.quickMoons + [
                    "--json", "--no-plot", "--optimizer", optimizer.rawValue, "--lr-decay", "1e-3",
                ],
                in: folder)
            let summary = try #require(run.summary, "\(optimizer): \(run.standardError)")
            #expect(summary.trainLoss.isFinite, "\(optimizer) diverged")
            #expect(summary.testAccuracy ?? 0 > 0.6, "\(optimizer) did not learn: \(summary.jsonLine())")
        }
    }

    @Test func optionsShapeTheModel() throws {
        let run = try DemosBinary.run(["moons", "--epochs", "1", "--hidden", "4,3,2", "--json", "--no-plot"])
        // 2·4+4 + 4·3+3 + 3·2+2 + 2·1+1
        #expect(run.summary?.parameters == 38)
    }

    @Test func spiralReportsValidationAndWritesItsPlots() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = try DemosBinary.run(PlanarRunTests.quickSpiral + ["--json"], in: folder)
        #expect(run.exitCode == 0, "stderr: \(run.standardError)")
        let summary = try #require(run.summary, "stdout: \(run.standardOutput)")
        #expect(summary.demo == "spiral")
        // Spiral draws a validation set, and no test set: no figure is called test.
        #expect(summary.testAccuracy == nil && summary.testLoss == nil)
        #expect(summary.parameters == 2 * 16 + 16 + 16 * 3 + 3)
        let validation = try #require(summary.validationAccuracy)
        #expect(validation > 1.0 / 3 - 0.05 && validation <= 1)
        #expect(DemoFiles.all(in: folder) == ["demos-output/spiral-curves.svg", "demos-output/spiral-regions.svg"])
        for name in ["spiral-curves.svg", "spiral-regions.svg"] {
            DemoFiles.expectValidSVG(folder.appendingPathComponent("demos-output/\(name)"))
        }
    }

    @Test func spiralTextSummaryNamesTheValidationSplit() throws {
        let run = try DemosBinary.run(PlanarRunTests.quickSpiral + ["--no-plot", "--batch-size", "5000"])
        #expect(run.exitCode == 0)
        #expect(run.standardOutput.contains("  validation "))
        #expect(run.standardOutput.contains("epoch 3/3"))
    }
}
