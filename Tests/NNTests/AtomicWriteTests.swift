import AutoDiff
import Foundation
import NN
import Testing

/// The one file writer: whole files or nothing, links written through, and nothing but a regular
/// file ever replaced.
@Suite("Atomic writes")
struct AtomicWriteTests {
    static func folder() throws -> String {
        let path = NSTemporaryDirectory() + "atomic-write-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func contents(_ folder: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
    }

    @Test("a symbolic link is written through to its target and stays a link")
    func symlinkWrittenThrough() throws {
        let root = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Data("old".utf8).write(to: URL(fileURLWithPath: root + "/target"))
        try FileManager.default.createSymbolicLink(atPath: root + "/link", withDestinationPath: "target")
        try AtomicWrite.write(Data("new".utf8), to: root + "/link")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: root + "/link") == "target")
        #expect(try String(contentsOfFile: root + "/target", encoding: .utf8) == "new")
        #expect(try Self.contents(root) == ["link", "target"])
        // A dangling link gets its target created.
        try FileManager.default.createSymbolicLink(atPath: root + "/dangling", withDestinationPath: "made")
        try AtomicWrite.write(Data("x".utf8), to: root + "/dangling")
        #expect(try String(contentsOfFile: root + "/made", encoding: .utf8) == "x")
    }

    @Test("a folder, a device and a fifo are refused in one line and left as they are")
    func nonRegularDestinationsRefused() throws {
        let root = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/folder", withIntermediateDirectories: false)
        #expect(mkfifo(root + "/fifo", 0o644) == 0)
        try FileManager.default.createSymbolicLink(atPath: root + "/to-null", withDestinationPath: "/dev/null")
        let cases = [
            (root + "/folder", "it is a folder, not a regular file"),
            (root + "/fifo", "it is a fifo, not a regular file"),
            ("/dev/null", "it is a character device, not a regular file"),
            (root + "/to-null", "it is a character device, not a regular file"),
        ]
        for (path, problem) in cases {
            do {
                try AtomicWrite.write(Data("x".utf8), to: path)
                Issue.record("\(path) was written")
            } catch let failure as AtomicWrite.Failure {
                #expect(failure.description.hasPrefix("cannot write '\(path)': \(problem)"), "\(failure)")
                #expect(!failure.description.contains("\n"))
            }
        }
        var status = stat()
        #expect(lstat("/dev/null", &status) == 0 && status.st_mode & S_IFMT == S_IFCHR)
        #expect(try Self.contents(root) == ["fifo", "folder", "to-null"])
        #expect(try Self.contents(root + "/folder").isEmpty)
    }

    @Test("a loop of links is one line, and nothing is written")
    func linkLoop() throws {
        let root = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createSymbolicLink(atPath: root + "/a", withDestinationPath: "b")
        try FileManager.default.createSymbolicLink(atPath: root + "/b", withDestinationPath: "a")
        let failure = #expect(throws: AtomicWrite.Failure.self) {
            try AtomicWrite.write(Data("x".utf8), to: root + "/a")
        }
        #expect(failure?.description == "cannot write '\(root)/a': too many levels of symbolic links")
        #expect(try Self.contents(root) == ["a", "b"])
    }

    @Test("safetensors files go through the same writer")
    func safetensorsRefusesADevice() {
        #expect(throws: NNError.self) {
            try Safetensors.write([("w", Tensor<Float>([1, 2]))], to: "/dev/null")
        }
    }
}
