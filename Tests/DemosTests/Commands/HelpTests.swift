import Foundation
import Testing

/// `--help` documents every option with its default and allowed range.
@Suite("Help")
struct HelpTests {
    static let commonOptions = [
        "--epochs", "--batch-size", "--lr", "--lr-decay", "--optimizer", "--hidden", "--dropout", "--l1", "--l2",
        "--seed", "--threads", "--save", "--load", "--checkpoint", "--resume", "--log", "--tensorboard", "--plot",
        "--no-plot", "--quiet", "--json",
    ]

    @Test func rootHelpListsTheDemos() throws {
        let run = try DemosBinary.run(["--help"])
        #expect(run.exitCode == 0)
        for name in ["moons", "spiral", "mnist", "handwritten"] {
            #expect(run.standardOutput.contains(name))
        }
    }

    @Test func versionIsThePackageVersion() throws {
        let run = try DemosBinary.run(["--version"])
        #expect(run.exitCode == 0)
        #expect(run.standardOutput == "0.1.0\n")
    }

    @Test func handwrittenDocumentsItsOptions() throws {
        let run = try DemosBinary.run(["handwritten", "--help"])
        #expect(run.exitCode == 0)
        let blocks = HelpTests.optionBlocks(run.standardOutput)
        for option in ["--case", "--epochs", "--seed", "--plot", "--no-plot", "--json"] {
            #expect(
                blocks[option]?.contains("default") == true, "handwritten \(option): \(blocks[option] ?? "missing")")
        }
        #expect(blocks["--case"]?.contains("moons, bias-sum, sigmoid-derivative") == true)
    }

    @Test(arguments: ["moons", "spiral", "mnist"])
    func everyOptionStatesItsDefault(demo: String) throws {
        let run = try DemosBinary.run([demo, "--help"])
        #expect(run.exitCode == 0)
        let blocks = HelpTests.optionBlocks(run.standardOutput)
        var expected = HelpTests.commonOptions
        if demo == "mnist" { expected += ["--data", "--dataset", "--validation", "--model"] }
        for option in expected {
            let block = blocks[option]
            #expect(block != nil, "\(demo) --help does not document \(option)")
            #expect(block?.contains("default") == true, "\(demo) \(option) has no default in: \(block ?? "")")
        }
    }

    /// Each demo shows its own defaults.
    @Test(arguments: [
        ("moons", "--hidden", "16,16"), ("moons", "--epochs", "300"), ("moons", "--lr", "0.01"),
        ("moons", "--l2", "0.001"),
        ("spiral", "--hidden", "128,128"), ("spiral", "--l2", "0.0005"), ("spiral", "--dropout", "0.1"),
        ("spiral", "--lr-decay", "0.0001"), ("mnist", "--hidden", "512,128,64"), ("mnist", "--batch-size", "128"),
        ("mnist", "--lr", "0.001"), ("mnist", "--lr-decay", "0.0005"),
    ])
    func perDemoDefaults(demo: String, option: String, value: String) throws {
        let run = try DemosBinary.run([demo, "--help"])
        let block = HelpTests.optionBlocks(run.standardOutput)[option] ?? ""
        #expect(block.contains("default: \(value)"), "\(demo) \(option): \(block)")
    }

    /// mnist's `--model cnn` has its own head and dropout, and says so.
    @Test(arguments: [("--hidden", "128 with --model cnn"), ("--dropout", "0.25 with --model cnn"), ("--model", "mlp")])
    func convolutionalDefaults(option: String, text: String) throws {
        let block = HelpTests.optionBlocks(try DemosBinary.run(["mnist", "--help"]).standardOutput)[option] ?? ""
        #expect(block.contains(text), "\(option): \(block)")
    }

    @Test(arguments: [
        ("--epochs", "≥ 1"), ("--batch-size", "≥ 1"), ("--lr", "> 0"), ("--dropout", "[0, 1)"),
        ("--l1", "≥ 0"), ("--l2", "≥ 0"), ("--threads", "≥ 1"), ("--optimizer", "adamw"),
    ])
    func rangesAreStated(option: String, range: String) throws {
        let run = try DemosBinary.run(["moons", "--help"])
        let block = HelpTests.optionBlocks(run.standardOutput)[option] ?? ""
        #expect(block.contains(range), "\(option): \(block)")
    }

    /// The help text of each option, keyed by its long name, with wrapped lines joined.
    static func optionBlocks(_ help: String) -> [String: String] {
        var blocks: [String: String] = [:]
        var current: String?
        for line in help.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("--") {
                let name = String(trimmed.prefix { $0 != " " })
                current = name
                blocks[name] = trimmed
            } else if let name = current, !trimmed.isEmpty, line.hasPrefix("     ") {
                blocks[name, default: ""] += " " + trimmed
            } else {
                current = nil
            }
        }
        return blocks
    }
}
