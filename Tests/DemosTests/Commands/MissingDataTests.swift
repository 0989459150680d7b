import Foundation
import Testing

/// Without the IDX files, `demos mnist` says where it looked, what it wanted and where the files
/// come from — and downloads nothing.
@Suite("Missing MNIST data")
struct MissingDataTests {
    @Test func explicitFolderIsTheOnlyOneTried() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = try DemosBinary.run(["mnist", "--data", folder.path], in: folder)
        #expect(run.exitCode != 0)
        #expect(run.standardOutput.isEmpty)
        let message = run.standardError
        #expect(message.hasPrefix("Error: MNIST data not found"))
        #expect(message.contains(folder.standardizedFileURL.path))
        #expect(!message.contains("/usr/share/datasets"))
        for name in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
            #expect(message.contains(name))
        }
        #expect(message.contains(".gz"))
        #expect(message.contains("Nothing is downloaded"))
        #expect(try TemporaryFolder.contents(folder).isEmpty, "no output files on failure")
    }

    @Test func defaultSearchListsEveryFolderTried() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let environmentFolder = folder.appendingPathComponent("from-env").path
        let run = try DemosBinary.run(["mnist"], in: folder, environment: ["MNIST_DIR": environmentFolder])
        guard FileManager.default.fileExists(atPath: "/usr/share/datasets/mnist") == false else {
            return  // Debian's MNIST is installed here: the run finds it.
        }
        #expect(run.exitCode != 0)
        let message = run.standardError
        #expect(message.contains(environmentFolder))
        #expect(message.contains("$MNIST_DIR"))
        #expect(message.contains(folder.appendingPathComponent("data/mnist").standardizedFileURL.path))
        #expect(message.contains("/usr/share/datasets/mnist"))
    }

    @Test func fashionMessageNamesTheDebianPackage() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = try DemosBinary.run(["mnist", "--dataset", "fashion", "--data", folder.path], in: folder)
        #expect(run.exitCode != 0)
        #expect(run.standardError.hasPrefix("Error: Fashion-MNIST data not found"))
        #expect(run.standardError.contains("apt-get install dataset-fashion-mnist"))
    }

    @Test func partialFolderNamesTheMissingFiles() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        _ = FileManager.default.createFile(atPath: folder.appendingPathComponent("train-images-idx3-ubyte.gz").path, contents: Data())
        _ = FileManager.default.createFile(atPath: folder.appendingPathComponent("train-labels-idx1-ubyte").path, contents: Data())
        let run = try DemosBinary.run(["mnist", "--data", folder.path], in: folder)
        #expect(run.exitCode != 0)
        #expect(run.standardError.contains("missing t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte"))
    }
}
