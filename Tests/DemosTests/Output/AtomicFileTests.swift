import Foundation
import Testing

@testable import Demos

@Suite("AtomicFile")
struct AtomicFileTests {
    @Test func createsMissingFoldersAndLeavesNoTemporaryFiles() throws {
        let root = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: root) }
        let path = root.appendingPathComponent("a/b/plot.svg").path
        try AtomicFile.write("<svg/>", to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "<svg/>")
        #expect(try TemporaryFolder.contents(root.appendingPathComponent("a/b")) == ["plot.svg"])
    }

    @Test func replacesAnExistingFileWhole() throws {
        let root = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: root) }
        let path = root.appendingPathComponent("plot.svg").path
        try AtomicFile.write(String(repeating: "x", count: 10_000), to: path)
        try AtomicFile.write("short", to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "short")
        #expect(try TemporaryFolder.contents(root) == ["plot.svg"])
    }

    @Test func failureLeavesNothingBehind() throws {
        let root = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: root) }
        // The destination is a non-empty folder: rename(2) cannot replace it.
        let destination = root.appendingPathComponent("taken")
        try FileManager.default.createDirectory(at: destination.appendingPathComponent("inside"), withIntermediateDirectories: true)
        #expect(throws: AtomicFile.WriteError.self) {
            try AtomicFile.write("data", to: destination.path)
        }
        #expect(try TemporaryFolder.contents(root) == ["taken"])
    }

    @Test func unwritableFolderIsAOneLineError() throws {
        let root = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: root) }
        let file = root.appendingPathComponent("file")
        _ = FileManager.default.createFile(atPath: file.path, contents: Data())
        do {
            try AtomicFile.write("data", to: file.appendingPathComponent("plot.svg").path)
            Issue.record("expected an error")
        } catch let error as AtomicFile.WriteError {
            #expect(!"\(error)".contains("\n"))
            #expect("\(error)".contains("plot.svg"))
        }
    }
}
