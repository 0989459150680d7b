import Foundation
import NN

/// The demos' outputs (plots, summaries) written through NN's ``AtomicWrite``: a reader sees
/// either the old file or the complete new one, never a part; missing folders are created; a
/// link is written through to its target; nothing but a regular file is replaced.
enum AtomicFile {
    /// A failure to write `path`, described in one line.
    typealias WriteError = AtomicWrite.Failure

    /// Writes `data` to `path`, creating missing parent folders.
    static func write(_ data: Data, to path: String) throws {
        try AtomicWrite.write(data, to: path, createFolders: true)
    }

    /// Writes `text` as UTF-8 to `path`, creating missing parent folders.
    static func write(_ text: String, to path: String) throws {
        try write(Data(text.utf8), to: path)
    }
}
