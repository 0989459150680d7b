import Foundation

/// Writes files so that a reader sees either the old file or the complete new one, never a part.
///
/// The bytes go to a hidden temporary file in the destination's own folder (same file system, so
/// the final `rename(2)` is atomic), which then replaces the destination. On any failure the
/// temporary file is removed: an interrupted or failed run leaves no partial output behind.
enum AtomicFile {
    /// A failure to write `path`, described in one line.
    struct WriteError: Error, CustomStringConvertible {
        let path: String
        let reason: String
        var description: String { "cannot write '\(path)': \(reason)" }
    }

    /// Writes `data` to `path`, creating missing parent folders.
    static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw WriteError(path: path, reason: "cannot create folder '\(directory.path)'")
        }
        let temporary = directory.appendingPathComponent(
            ".\(url.lastPathComponent).\(getpid()).\(nextSerial()).tmp")
        do {
            try data.write(to: temporary)
        } catch {
            unlink(temporary.path)
            throw WriteError(path: path, reason: "\(error.localizedDescription)")
        }
        if rename(temporary.path, url.path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(temporary.path)
            throw WriteError(path: path, reason: reason)
        }
    }

    /// Writes `text` as UTF-8 to `path`, creating missing parent folders.
    static func write(_ text: String, to path: String) throws {
        try write(Data(text.utf8), to: path)
    }

    /// Distinguishes temporary files of concurrent writes within one process.
    private static func nextSerial() -> Int {
        serialLock.lock()
        defer { serialLock.unlock() }
        serial += 1
        return serial
    }

    private static let serialLock = NSLock()
    nonisolated(unsafe) private static var serial = 0
}
