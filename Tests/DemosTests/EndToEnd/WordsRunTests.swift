import AutoDiff
import Foundation
import Testing

@testable import Demos

/// `demos words` end to end on a small generated word list: it trains (the held-out loss goes
/// down), saves the model with its vocabulary, loads it and samples; `--eager` saves the same
/// weights as the captured run; a missing word list is one line naming the package.
@Suite("demos words, end to end")
struct WordsRunTests {
    /// 400 words over 8 letters with a pattern to learn (consonant, vowel, …), one per line.
    static func writeWordList(in folder: URL) throws {
        var generator = RandomGenerator(seed: 11)
        let (consonants, vowels) = (Array("bdklmt"), Array("ao"))
        let words = (0..<400).map { _ in
            String(
                (0..<(3 + Int(generator.next() % 4))).map { i in
                    i % 2 == 0
                        ? consonants[Int(generator.next() % UInt64(consonants.count))]
                        : vowels[Int(generator.next() % UInt64(vowels.count))]
                })
        }
        try (words.joined(separator: "\n") + "\n").write(
            to: folder.appendingPathComponent("words.txt"), atomically: true, encoding: .utf8)
    }

    static let small = [
        "words", "--file", "words.txt", "--steps", "40", "--eval-interval", "20", "--eval-batches", "4",
        "--batch-size", "16", "--context", "8", "--width", "16", "--heads", "2", "--samples", "5", "--threads", "1",
        "--lr", "0.01", "--json", "--no-plot",
    ]

    /// The `--json` line as a dictionary.
    static func summary(_ run: DemosBinary.Run) throws -> [String: Any] {
        let line = try #require(run.standardOutput.split(whereSeparator: \.isNewline).last, "no output")
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    @Test func trainsSavesLoadsAndMatchesEager() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.writeWordList(in: folder)
        let captured = try DemosBinary.run(Self.small + ["--save", "captured.safetensors"], in: folder)
        #expect(captured.exitCode == 0, "stderr: \(captured.standardError)")
        let first = try Self.summary(captured)
        let losses = try #require(first["heldout_losses"] as? [[String: Any]]).compactMap { $0["loss"] as? Double }
        #expect(losses.count == 2)
        #expect(try #require(losses.last) < 2.0, "held-out losses \(losses)")  // ln 9 ≈ 2.20 untrained
        #expect(first["eager_reason"] == nil, "\(first)")
        #expect(try #require(first["replayed_steps"] as? Int) >= 35)
        let words = try #require(first["words"] as? [String])
        #expect(words.count == 5 && words.allSatisfy { $0.allSatisfy("bdklmtao".contains) })

        let eager = try DemosBinary.run(Self.small + ["--save", "eager.safetensors", "--eager"], in: folder)
        #expect(eager.exitCode == 0, "stderr: \(eager.standardError)")
        #expect(try Self.summary(eager)["replayed_steps"] as? Int == 0)
        let weights = try ["captured", "eager"].map {
            try Data(contentsOf: folder.appendingPathComponent("\($0).safetensors"))
        }
        #expect(weights[0] == weights[1], "the captured run saved other weights than --eager")

        // Loaded with its vocabulary and shape (the defaults' width 64 and context 16 are
        // replaced by the file's), evaluated and sampled without training: the same held-out loss.
        let loaded = try DemosBinary.run(
            [
                "words", "--file", "words.txt", "--load", "captured.safetensors", "--steps", "0", "--eval-batches", "4",
                "--batch-size", "16", "--samples", "3", "--json", "--no-plot",
            ],
            in: folder)
        #expect(loaded.exitCode == 0, "stderr: \(loaded.standardError)")
        let again = try Self.summary(loaded)
        #expect(again["parameters"] as? Int == first["parameters"] as? Int)
        #expect(try #require(again["heldout_loss"] as? Double) == losses.last)
        #expect(try #require(again["words"] as? [String]).count == 3)
    }

    @Test func checkpointResumesExactly() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.writeWordList(in: folder)
        let whole = try DemosBinary.run(Self.small + ["--save", "whole.safetensors"], in: folder)
        #expect(whole.exitCode == 0, "stderr: \(whole.standardError)")
        let half = Self.small.map { $0 == "40" ? "20" : $0 }
        let first = try DemosBinary.run(half + ["--checkpoint", "run.ckpt"], in: folder)
        #expect(first.exitCode == 0, "stderr: \(first.standardError)")
        #expect(try Self.summary(first)["files"] as? [String] == ["run.ckpt"])
        let resumed = try DemosBinary.run(
            Self.small + ["--resume", "run.ckpt", "--save", "resumed.safetensors"], in: folder)
        #expect(resumed.exitCode == 0, "stderr: \(resumed.standardError)")
        // Bit for bit the uninterrupted run: weights, held-out curve and words.
        let weights = try ["whole", "resumed"].map {
            try Data(contentsOf: folder.appendingPathComponent("\($0).safetensors"))
        }
        #expect(weights[0] == weights[1], "the resumed run saved other weights than the uninterrupted one")
        let (a, b) = (try Self.summary(whole), try Self.summary(resumed))
        let curve = { (summary: [String: Any]) in
            (summary["heldout_losses"] as? [[String: Any]])?.compactMap { $0["loss"] as? Double } ?? []
        }
        #expect(curve(a).count == 2 && curve(a) == curve(b), "\(curve(a)) \(curve(b))")
        #expect(a["words"] as? [String] == b["words"] as? [String])

        // A checkpoint of another run is one line naming what it continues.
        let other = try DemosBinary.run(
            Self.small.map { $0 == "0.01" ? "0.02" : $0 } + ["--resume", "run.ckpt"], in: folder)
        #expect(other.exitCode != 0)
        #expect(other.errorLines.count == 1, "stderr: \(other.standardError)")
        #expect(other.standardError.contains("--resume run.ckpt: the checkpoint continues a words run with"))
        let both = try DemosBinary.run(
            Self.small + ["--resume", "run.ckpt", "--load", "whole.safetensors"], in: folder)
        #expect(both.errorLines == ["Error: --resume and --load cannot be combined: --resume restores the weights too"])
    }

    @Test func signalStopsAfterTheStepKeepingTheCheckpoint() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.writeWordList(in: folder)
        let (status, message) = try DemosBinary.terminatedAfterCheckpoint(
            Self.small.map { $0 == "40" ? "1000000" : $0 == "20" ? "5" : $0 } + ["--checkpoint", "run.ckpt"],
            in: folder)
        #expect(status == 128 + SIGTERM, "stderr: \(message)")
        #expect(message.hasPrefix("Error: interrupted by signal \(SIGTERM) at step "), "stderr: \(message)")
        #expect(message.contains("; run.ckpt holds the run after step "), "stderr: \(message)")
        #expect(try TemporaryFolder.contents(folder) == ["run.ckpt", "words.txt"])
    }

    @Test func plotsAndTextOutput() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.writeWordList(in: folder)
        let run = try DemosBinary.run(
            Self.small.filter { $0 != "--json" && $0 != "--no-plot" } + ["--plot", "out"], in: folder)
        #expect(run.exitCode == 0, "stderr: \(run.standardError)")
        #expect(run.standardOutput.contains("step 20/40: train loss"))
        #expect(run.standardOutput.contains("generated words: "))
        DemoFiles.expectValidSVG(folder.appendingPathComponent("out/words-curves.svg"))
    }

    @Test func missingFilesAreOneLine() throws {
        let missing = try DemosBinary.run(["words", "--file", "nowhere.txt"])
        #expect(missing.exitCode != 0)
        #expect(missing.errorLines == ["Error: --file nowhere.txt: no such file"])
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        _ = FileManager.default.createFile(
            atPath: folder.appendingPathComponent("bad.txt").path, contents: Data([0xC3, 0x28, 0x0A]))
        let invalid = try DemosBinary.run(["words", "--file", "bad.txt"], in: folder)
        #expect(invalid.errorLines.count == 1)
        #expect(invalid.standardError.contains("bad.txt") && invalid.standardError.contains("UTF-8"))
    }
}
