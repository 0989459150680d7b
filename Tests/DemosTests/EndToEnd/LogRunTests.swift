import Foundation
import NN
import Testing

@testable import Demos

/// `--log FILE` (one JSON line per epoch) and `--tensorboard DIR` (an event file) on a real run.
@Suite("Metrics log and TensorBoard")
struct LogRunTests {
    /// The lines of a `--log` file, each decoded as a JSON object.
    static func logLines(_ url: URL) throws -> [[String: Any]] {
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(text.hasSuffix("\n"))
        return try text.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], "line: \($0)")
        }
    }

    /// The events of a TensorBoard file, checking each record's length and masked CRC-32Cs.
    static func records(_ path: String) throws -> [[UInt8]] {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        func littleEndian(_ start: Int, _ count: Int) -> UInt64 {
            bytes[start..<(start + count)].reversed().reduce(0) { $0 << 8 | UInt64($1) }
        }
        var records: [[UInt8]] = []
        var offset = 0
        while offset < bytes.count {
            try #require(offset + 12 <= bytes.count, "a truncated record header at byte \(offset)")
            let length = Int(littleEndian(offset, 8))
            #expect(UInt32(littleEndian(offset + 8, 4)) == TFRecord.maskedCRC(Array(bytes[offset..<(offset + 8)])))
            try #require(offset + 16 + length <= bytes.count, "a truncated record at byte \(offset)")
            let data = Array(bytes[(offset + 12)..<(offset + 12 + length)])
            #expect(UInt32(littleEndian(offset + 12 + length, 4)) == TFRecord.maskedCRC(data))
            records.append(data)
            offset += 16 + length
        }
        return records
    }

    @Test func moonsLogsEveryEpochAndWritesAnEventFile() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = try DemosBinary.run(
            PlanarRunTests.quickMoons + ["--json", "--no-plot", "--log", "run.jsonl", "--tensorboard", "tb"], in: folder
        )
        #expect(run.exitCode == 0, "stderr: \(run.standardError)")
        let summary = try #require(run.summary)
        let lines = try LogRunTests.logLines(folder.appendingPathComponent("run.jsonl"))
        #expect(lines.map { $0["epoch"] as? Int } == [1, 2, 3, 4, 5])
        // Moons holds out a test split: its figures are named so, and nothing is called validation.
        #expect(
            Set(lines[0].keys) == [
                "epoch", "runningTrainLoss", "runningTrainAccuracy", "testLoss", "testAccuracy", "learningRate",
                "seconds",
            ])
        // The last epoch's test figures are the summary's (evaluated after the last step).
        #expect(lines[4]["testAccuracy"] as? Double == summary.testAccuracy)
        #expect(lines[4]["learningRate"] as? Double == 0.01)

        let events = try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("tb").path)
        #expect(events.count == 1 && events[0].hasPrefix("events.out.tfevents."))
        let eventPath = "tb/" + events[0]
        #expect(summary.files == ["run.jsonl", eventPath])
        // The version, 5 epochs × 13 steps (800 samples, batch 64): one event per step, per epoch
        // one of scalars and 6 histograms (3 Linear layers' weights and biases).
        let records = try LogRunTests.records(folder.appendingPathComponent(eventPath).path)
        #expect(records.count == 1 + 5 * 13 + 5 * (1 + 6))
        #expect(records[0].suffix(13) == Array("brain.Event:2".utf8))
    }

    @Test("a killed run keeps every log line and event written before it died")
    func killedRunKeepsWhatItWrote() throws {
        guard let executable = DemosBinary.url else { return }
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let process = Process()
        process.executableURL = executable
        process.arguments = [
            "spiral", "--no-plot", "--quiet", "--epochs", "100000", "--hidden", "8", "--log", "run.jsonl",
            "--tensorboard", "tb",
        ]
        process.currentDirectoryURL = folder
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let log = folder.appendingPathComponent("run.jsonl")
        func lineCount() -> Int { ((try? String(contentsOf: log, encoding: .utf8)) ?? "").filter { $0 == "\n" }.count }
        while lineCount() < 3 && process.isRunning { usleep(20_000) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        let lines = try LogRunTests.logLines(log)
        #expect(lines.count >= 3)
        #expect(lines.map { $0["epoch"] as? Int } == Array(1...lines.count))
        #expect(lines.allSatisfy { $0["validationAccuracy"] is Double && $0["testAccuracy"] == nil })
        let tb = folder.appendingPathComponent("tb")
        let events = try FileManager.default.contentsOfDirectory(atPath: tb.path)
        let records = try LogRunTests.records(tb.appendingPathComponent(try #require(events.first)).path)
        #expect(records.count >= 1 + lines.count * 2)
    }
}
