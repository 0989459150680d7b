import Foundation

/// The one way this package writes a file: a reader sees either the old contents or the complete
/// new ones, never a part, and nothing but a regular file is ever replaced.
///
/// - The bytes go to a hidden temporary file in the destination's folder (same file system), are
///   flushed (`fsync`), and the temporary file is renamed over the destination (`rename(2)` is
///   atomic). On any failure the temporary file is removed.
/// - A symbolic link is written through: its target gets the new contents and the link stays a
///   link (as `open(2)` would do; renaming over the link would replace the link itself).
/// - A destination that exists and is not a regular file (a folder, a device such as `/dev/null`,
///   a fifo, a socket) is refused with a one-line error rather than replaced by a file.
public enum AtomicWrite {
    /// Why `path` could not be written, in one line.
    public struct Failure: Error, CustomStringConvertible, Equatable, Sendable {
        /// The path that was to be written, as given.
        public let path: String
        /// Why it could not be, in one line (the system's error, or what the path is instead of a file).
        public let problem: String
        public var description: String { "cannot write '\(path)': \(problem)" }
    }

    /// Writes `bytes` to `path` (see ``AtomicWrite``), creating missing parent folders first when
    /// `createFolders` is set.
    public static func write(_ bytes: some DataProtocol, to path: String, createFolders: Bool = false) throws {
        let destination = try resolvingLinks(path)
        let folder = (destination as NSString).deletingLastPathComponent
        if createFolders && !folder.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw Failure(path: path, problem: "cannot create folder '\(folder)'")
            }
        }
        let kind = FileKind(atPath: destination, followingLinks: false)
        if kind != .missing && kind != .regularFile {
            throw Failure(path: path, problem: "it is \(kind), not a regular file; it was left as it is")
        }
        let name = (destination as NSString).lastPathComponent
        let temporary =
            (folder.isEmpty ? "" : folder + "/") + ".\(name).\(getpid()).\(UInt64.random(in: 0...UInt64.max)).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw Failure(
                path: path, problem: "cannot create a file in '\(folder.isEmpty ? "." : folder)' (\(errorText()))")
        }
        var failure: String?
        let contiguous = [UInt8](bytes)
        contiguous.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count && failure == nil {
                let n = Foundation.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { failure = errorText() } else { done += n }
            }
        }
        if failure == nil && fsync(fd) != 0 { failure = errorText() }
        close(fd)
        if failure == nil && rename(temporary, destination) != 0 { failure = errorText() }
        if let failure {
            unlink(temporary)
            throw Failure(path: path, problem: failure)
        }
    }

    /// `path` with every symbolic link along its last component followed (a dangling link
    /// resolves to where its target would be).
    static func resolvingLinks(_ path: String) throws -> String {
        var current = path
        for _ in 0..<40 {
            guard FileKind(atPath: current, followingLinks: false) == .symbolicLink else { return current }
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: current) else {
                throw Failure(path: path, problem: "the link '\(current)' cannot be read")
            }
            current =
                target.hasPrefix("/")
                ? target : ((current as NSString).deletingLastPathComponent as NSString).appendingPathComponent(target)
        }
        throw Failure(path: path, problem: "too many levels of symbolic links")
    }

    private static func errorText() -> String { String(cString: strerror(errno)) }
}
