#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a path names, for one-line errors that say what was found instead of what was expected
/// (`--load DIR`, `--data FILE`, a write onto `/dev/null`).
public enum FileKind: Equatable, Sendable, CustomStringConvertible {
    /// Nothing at the path; a regular file; a folder; a character device (`/dev/null`); a block
    /// device; a named pipe; a socket; a symbolic link (only when links are not followed).
    case missing, regularFile, folder, characterDevice, blockDevice, fifo, socket, symbolicLink

    /// The kind of the file at `path`, following symbolic links unless `followingLinks` is false.
    public init(atPath path: String, followingLinks: Bool = true) {
        var status = stat()
        guard (followingLinks ? stat(path, &status) : lstat(path, &status)) == 0 else {
            self = .missing
            return
        }
        switch status.st_mode & S_IFMT {
        case S_IFREG: self = .regularFile
        case S_IFDIR: self = .folder
        case S_IFCHR: self = .characterDevice
        case S_IFBLK: self = .blockDevice
        case S_IFIFO: self = .fifo
        case S_IFSOCK: self = .socket
        default: self = .symbolicLink
        }
    }

    /// "a folder", "a character device", …
    public var description: String {
        switch self {
        case .missing: "missing"
        case .regularFile: "a regular file"
        case .folder: "a folder"
        case .characterDevice: "a character device"
        case .blockDevice: "a block device"
        case .fifo: "a fifo"
        case .socket: "a socket"
        case .symbolicLink: "a symbolic link"
        }
    }
}
