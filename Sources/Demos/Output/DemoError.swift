/// A failure a demo reports to the user as-is (after `Error: `), with a non-zero exit code.
enum DemoError: Error, CustomStringConvertible, Equatable {
    /// A one-line problem (unreadable checkpoint, a shape mismatch, a corrupt file).
    case message(String)
    /// The data files were not found; the text lists where they were looked for.
    case dataNotFound(String)

    var description: String {
        switch self {
        case .message(let text), .dataNotFound(let text): text
        }
    }
}
