/// A failure a demo reports to the user as-is (after `Error: `), with a non-zero exit code.
enum DemoError: Error, CustomStringConvertible, Equatable {
    /// A one-line problem (unreadable checkpoint, a shape mismatch, a corrupt file).
    case message(String)
    /// The data files were not found; the text lists where they were looked for.
    case dataNotFound(String)
    /// A training seam has no body yet (see `Training/`).
    case notYetWired(demo: String, seam: String)

    var description: String {
        switch self {
        case .message(let text), .dataNotFound(let text): text
        case .notYetWired(let demo, let seam):
            "the \(demo) demo is not yet wired to the NN module (\(seam) has no body yet)"
        }
    }
}
