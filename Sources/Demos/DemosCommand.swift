import ArgumentParser
import AutoDiff
import Foundation

/// The `demos` executable: trains small models end to end and shows how it went.
///
/// ```
/// swift run -c release demos moons
/// swift run -c release demos spiral --hidden 64 --epochs 2000
/// swift run -c release demos mnist --dataset fashion --epochs 15
/// ```
///
/// Errors are printed by ``main()`` rather than by ArgumentParser's default handler so that an
/// invalid option produces exactly one line on standard error (no usage block, no stack trace).
@main
struct DemosCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demos",
        abstract: "Train small neural networks end to end, with progress, plots and a summary.",
        discussion: """
            Each demo writes SVG plots to demos-output/ (see --plot and --no-plot) and prints a \
            summary; --json prints one JSON line instead. The same --seed gives the same numbers \
            and files on every run.
            """,
        version: PackageVersion.current,
        subcommands: [
            MoonsCommand.self, SpiralCommand.self, MNISTCommand.self, HandwrittenCommand.self, WordsCommand.self,
        ])

    /// Parses the command line, runs the chosen demo and reports failures as one line.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exitReportingFailure(error)
        }
    }

    /// Help and `--version` keep ArgumentParser's output; everything else becomes
    /// `Error: <message>` on standard error and a non-zero exit code.
    static func exitReportingFailure(_ error: Error) -> Never {
        let code = exitCode(for: error)
        if code == .success {
            exit(withError: error)
        }
        let message: String
        if let demoError = error as? DemoError {
            // Demo errors (missing data) may span lines on purpose: a list of
            // the folders tried reads better as a list.
            message = demoError.description
        } else {
            message = AllowedValues.explain(singleLine(Self.message(for: error)))
        }
        var status = code == .success ? 1 : code.rawValue
        if case .interrupted(let signal, _) = error as? DemoError { status = 128 + signal }
        // --distributed: one report for the job, and no rank left waiting for this one.
        if DistributedDemo.communicator != nil {
            DistributedDemo.exit(reporting: error, message: message, code: status)
        }
        FileHandle.standardError.write(Data("Error: \(message)\n".utf8))
        Foundation.exit(status)
    }

    /// Joins ArgumentParser's message onto one line and drops the "Error: " prefix it may carry.
    static func singleLine(_ message: String) -> String {
        var text =
            message
            .split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
            .joined(separator: " ")
        if text.hasPrefix("Error: ") { text.removeFirst("Error: ".count) }
        return text
    }
}
