#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a path given to an option names, after following symbolic links (`stat`): options that
/// expect a file or a folder say which one they got instead (`--load DIR`, `--data FILE`,
/// `--load /dev/null`).
enum FileKind: Equatable {
    case missing
    case regularFile
    case folder
    /// A device, FIFO or socket.
    case other

    init(atPath path: String) {
        var status = stat()
        guard stat(path, &status) == 0 else {
            self = .missing
            return
        }
        switch status.st_mode & S_IFMT {
        case S_IFREG: self = .regularFile
        case S_IFDIR: self = .folder
        default: self = .other
        }
    }
}
