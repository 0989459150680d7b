/// A failure a demo reports to the user as-is (after `Error: `), with a non-zero exit code.
enum DemoError: Error, CustomStringConvertible, Equatable {
    /// A one-line problem (unreadable checkpoint, a shape mismatch, a corrupt file).
    case message(String)
    /// The data files were not found; the text lists where they were looked for.
    case dataNotFound(String)
    /// The run stopped at a signal (SIGINT, SIGTERM); exits with 128 + the signal's number.
    case interrupted(signal: Int32, String)

    var description: String {
        switch self {
        case .message(let text), .dataNotFound(let text), .interrupted(_, let text): text
        }
    }
}
