import Foundation
import Testing

/// `--checkpoint` and `--resume`: a run stopped and resumed is the run that never stopped, and a
/// signal leaves the last complete checkpoint and no temporary file.
@Suite("Checkpoint and resume, end to end")
struct ResumeRunTests {
    /// The lines a run prints for `epochs`, without the epoch count (`epoch 4/6` → `epoch 4`) and
    /// without their speed and time columns.
    static func epochLines(_ output: String, _ epochs: ClosedRange<Int>) -> [String] {
        output.split(separator: "\n").compactMap { line -> String? in
            guard let epoch = epochs.first(where: { line.hasPrefix("epoch \($0)/") }) else { return nil }
            let columns = line.components(separatedBy: "  ")
            return (["epoch \(epoch)"] + columns.dropFirst().prefix(5)).joined(separator: "  ")
        }
    }

    @Test(
        "3 + 3 epochs through a checkpoint equal 6 straight: parameters byte for byte, epoch lines and summary",
        arguments: ["moons", "spiral", "mnist"])
    func resumedRunEqualsStraightRun(demo: String) throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        var data: [String] = []
        if demo == "mnist" {
            let dataFolder = folder.appendingPathComponent("data")
            try FileManager.default.createDirectory(at: dataFolder, withIntermediateDirectories: true)
            try IDXFixture.writeToyDataSet(in: dataFolder)
            data = ["--data", dataFolder.path, "--hidden", "16"]
        }
        let common = [demo, "--no-plot"] + data
        let straight = try DemosBinary.run(common + ["--epochs", "6", "--save", "straight.safetensors"], in: folder)
        let first = try DemosBinary.run(common + ["--epochs", "3", "--checkpoint", "run.ckpt"], in: folder)
        let resumed = try DemosBinary.run(
            common + ["--epochs", "6", "--resume", "run.ckpt", "--save", "resumed.safetensors"], in: folder)
        for run in [straight, first, resumed] { #expect(run.exitCode == 0, "stderr: \(run.standardError)") }
        let a = try Data(contentsOf: folder.appendingPathComponent("straight.safetensors"))
        let b = try Data(contentsOf: folder.appendingPathComponent("resumed.safetensors"))
        #expect(a == b)
        #expect(Self.epochLines(straight.standardOutput, 1...3) == Self.epochLines(first.standardOutput, 1...3))
        #expect(Self.epochLines(straight.standardOutput, 4...6) == Self.epochLines(resumed.standardOutput, 4...6))
        #expect(Self.epochLines(resumed.standardOutput, 4...6).count == 3)
        let summary = { (run: DemosBinary.Run) in
            run.standardOutput.split(separator: "\n").filter {
                $0.hasPrefix("  train") || $0.hasPrefix("  test") || $0.hasPrefix("  validation")
            }
        }
        #expect(summary(straight) == summary(resumed) && !summary(straight).isEmpty)
    }

    @Test("resuming with other options is one line naming both runs")
    func resumeWithOtherOptions() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        _ = try DemosBinary.run(["moons", "--no-plot", "--epochs", "1", "--checkpoint", "run.ckpt"], in: folder)
        let run = try DemosBinary.run(
            ["moons", "--no-plot", "--epochs", "2", "--resume", "run.ckpt", "--lr", "0.5"], in: folder)
        #expect(run.exitCode == 1)
        #expect(run.errorLines.count == 1, "stderr: \(run.standardError)")
        #expect(run.standardError.contains("--resume run.ckpt: the checkpoint continues a run with hidden"))
        #expect(run.standardError.contains("pass the options it was saved with"))
    }

    @Test("SIGTERM stops the run after its step, keeps the last complete checkpoint and no temporary file")
    func signalKeepsLastCheckpoint() throws {
        guard DemosBinary.url != nil else { return }
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (status, message) = try DemosBinary.terminatedAfterCheckpoint(
            ["spiral", "--no-plot", "--quiet", "--epochs", "100000", "--checkpoint", "run.ckpt"], in: folder)
        #expect(status == 128 + SIGTERM, "stderr: \(message)")
        #expect(message.hasPrefix("Error: interrupted by signal \(SIGTERM) during epoch "))
        #expect(message.contains("run.ckpt holds the run after epoch "))
        #expect(try TemporaryFolder.contents(folder) == ["run.ckpt"])
        let resumed = try DemosBinary.run(
            ["spiral", "--no-plot", "--quiet", "--epochs", "1", "--resume", "run.ckpt"], in: folder)
        #expect(resumed.exitCode == 0, "stderr: \(resumed.standardError)")
    }
}
