import Foundation
import Testing

/// INTEGRATION: these pin the *unwired* state of the training seams. Replace them with end-to-end
/// runs (small settings, exit code 0, summary, SVG files, --json line) once NN is wired in.
@Suite("Training seams (until NN is wired)")
struct TrainingSeamTests {
    @Test(arguments: [["moons"], ["spiral"]])
    func validRunReachesTheSeam(arguments: [String]) throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = try DemosBinary.run(arguments + ["--epochs", "1", "--threads", "1"], in: folder)
        #expect(run.exitCode == 1)
        #expect(run.errorLines.count == 1)
        #expect(run.standardError.contains("not yet wired"))
        #expect(try TemporaryFolder.contents(folder).isEmpty, "no plots and no partial files")
    }

    @Test func fashionRunResolvesDebianDataThenReachesTheSeam() throws {
        guard FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist") else {
            print("skipped: /usr/share/datasets/fashion-mnist is absent (apt-get install dataset-fashion-mnist)")
            return
        }
        let run = try DemosBinary.run(["mnist", "--dataset", "fashion", "--epochs", "1", "--json"])
        #expect(run.exitCode == 1)
        #expect(run.standardError.contains("fashion-mnist demo is not yet wired"))
        #expect(run.standardOutput.isEmpty)
    }
}
