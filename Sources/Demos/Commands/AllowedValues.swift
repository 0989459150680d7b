import ArgumentParser
import Foundation

/// What each option accepts, in the words of the error messages: one table, so a range check in
/// `validate()` and a value ArgumentParser could not even parse (`--epochs many`) are described
/// the same way.
enum AllowedValues {
    static let byOption: [String: String] = [
        "--epochs": "an integer ≥ 1 (or 0 with --load to evaluate only)",
        "--batch-size": "an integer ≥ 1",
        "--lr": "a number > 0",
        "--lr-decay": "a number ≥ 0",
        "--optimizer": "one of \(OptimizerChoice.allowedValues)",
        "--hidden": "comma-separated integers ≥ 1, e.g. 64 or 512,128,64",
        "--dropout": "a number in [0, 1)",
        "--l1": "a number ≥ 0",
        "--l2": "a number ≥ 0",
        "--seed": "an integer in [0, 2^64)",
        "--threads": "an integer ≥ 1",
        "--validation": "an integer ≥ 1, smaller than the training set",
        "--case": "one of \(HandwrittenDemo.caseNames.joined(separator: ", "))",
    ]

    /// `--dropout 1.0 is out of range: expected a number in [0, 1)`.
    static func outOfRange(_ option: String, _ value: some CustomStringConvertible) -> ValidationError {
        ValidationError("\(option) \(value) is out of range: expected \(byOption[option] ?? "a valid value")")
    }

    /// Checks `--resume` (a readable checkpoint) and that it does not come with `--load`.
    static func checkResume(_ resume: String?, load: String?) throws {
        if let resume, !FileManager.default.isReadableFile(atPath: resume) {
            throw ValidationError(
                "--resume '\(resume)' cannot be read: expected a checkpoint written with --checkpoint")
        }
        if resume != nil && load != nil {
            throw ValidationError("--resume and --load cannot be combined: --resume restores the weights too")
        }
    }

    /// ArgumentParser's "The value 'x' is invalid for '--epochs <epochs>'" with what is allowed
    /// appended, when the option is in the table; other messages unchanged.
    static func explain(_ message: String) -> String {
        guard message.hasPrefix("The value '"),
            let range = message.range(of: "is invalid for '--")
        else { return message }
        let option = "--" + message[range.upperBound...].prefix { $0 != " " && $0 != "'" }
        guard let allowed = byOption[option] else { return message }
        return message + ": expected \(allowed)"
    }
}
