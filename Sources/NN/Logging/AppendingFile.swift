import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file opened for appending, where every ``append(_:)`` hands its bytes to the operating system
/// at once (one `write(2)`, no buffer in the process): when the process crashes, every record
/// appended before the crash is in the file. Metrics logs and TensorBoard event files use it.
///
/// ```swift
/// let log = try AppendingFile(path: "runs/metrics.jsonl")
/// try log.append(Array("{\"epoch\":1}\n".utf8))
/// ```
///
/// `Sendable`: its state is an open descriptor that never changes; `write(2)` in append mode
/// writes each call's bytes at the end, whole, from any thread.
public final class AppendingFile: Sendable {
    /// The path the file was opened at.
    public let path: String
    private let descriptor: Int32

    /// Opens `path` for appending, creating it (mode 0644) when missing; with `exclusive`, fails
    /// when it already exists instead. The parent folder must exist.
    /// - Throws: ``LogFileError`` naming the path and the system's reason (a missing folder,
    ///   permission denied, a folder at `path`, …).
    public init(path: String, exclusive: Bool = false) throws(LogFileError) {
        if FileKind(atPath: path) == .folder {
            throw LogFileError(path: path, problem: "is a folder, not a file")
        }
        let flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (exclusive ? O_EXCL : 0)
        let descriptor = open(path, flags, 0o644)
        guard descriptor >= 0 else {
            throw LogFileError(
                path: path, problem: "cannot be opened for writing (\(String(cString: strerror(errno))))")
        }
        self.path = path
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// Appends `bytes` at the end of the file (retrying short writes and interruptions).
    /// - Throws: ``LogFileError`` when the system refuses (a full disk, an I/O error).
    public func append(_ bytes: [UInt8]) throws(LogFileError) {
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { buffer in
                write(descriptor, buffer.baseAddress! + written, buffer.count - written)
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw LogFileError(path: path, problem: "write failed (\(String(cString: strerror(errno))))")
            }
            written += result
        }
    }
}

/// A log file that cannot be opened or written: one line naming the file and the reason.
public struct LogFileError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file's path.
    public let path: String
    /// What went wrong, e.g. `cannot be opened for writing (Permission denied)`.
    public let problem: String

    /// `'runs/metrics.jsonl' cannot be opened for writing (No such file or directory)`.
    public var description: String { "'\(path)' \(problem)" }
}

extension LogFileError: LocalizedError {
    public var errorDescription: String? { description }
}
