import Testing

@testable import Demos

@Suite("MNIST location")
struct MNISTLocationTests {
    /// A location over a fake file system holding `files`.
    static func location(
        _ dataset: MNISTDataset = .mnist, explicit: String? = nil, environment: [String: String] = [:],
        files: Set<String>
    ) -> MNISTLocation {
        var location = MNISTLocation(dataset: dataset, explicitDirectory: explicit)
        location.environment = environment
        location.currentDirectory = "/work/project"
        location.fileExists = { files.contains($0) }
        location.directoryExists = { directory in files.contains { $0.hasPrefix(directory + "/") } }
        return location
    }

    static func allFiles(in directory: String, gzip: Bool = true) -> Set<String> {
        Set(MNISTFiles.baseNames.map { "\(directory)/\($0)\(gzip ? ".gz" : "")" })
    }

    @Test func searchOrder() {
        let candidates = MNISTLocationTests.location(environment: ["MNIST_DIR": "env/mnist"], files: []).candidates
        #expect(
            candidates.map(\.directory) == [
                "/work/project/env/mnist", "/work/project/data/mnist", "/usr/share/datasets/mnist",
            ])
        let fashion = MNISTLocationTests.location(.fashion, environment: ["MNIST_DIR": "/digits"], files: []).candidates
        #expect(fashion.map(\.directory) == ["/work/project/data/fashion-mnist", "/usr/share/datasets/fashion-mnist"])
        let explicit = MNISTLocationTests.location(
            explicit: "../shared/data/mnist", environment: ["MNIST_DIR": "/x"], files: []
        ).candidates
        #expect(explicit.map(\.directory) == ["/work/shared/data/mnist"])
    }

    @Test func firstCompleteFolderWins() throws {
        let files = MNISTLocationTests.allFiles(in: "/work/project/data/mnist")
            .union(MNISTLocationTests.allFiles(in: "/usr/share/datasets/mnist"))
            .union(["/env/train-images-idx3-ubyte"])  // incomplete: skipped
        let found = try MNISTLocationTests.location(environment: ["MNIST_DIR": "/env"], files: files).resolve()
        #expect(found.directory == "/work/project/data/mnist")
        #expect(found.testLabels == "/work/project/data/mnist/t10k-labels-idx1-ubyte.gz")
    }

    @Test func rawFilesArePreferredAndMixingIsFine() throws {
        var files = MNISTLocationTests.allFiles(in: "/d")
        files.insert("/d/train-images-idx3-ubyte")
        let found = try MNISTLocationTests.location(explicit: "/d", files: files).resolve()
        #expect(found.trainImages == "/d/train-images-idx3-ubyte")
        #expect(found.trainLabels == "/d/train-labels-idx1-ubyte.gz")
    }

    @Test func fashionFallsBackToDebian() throws {
        let files = MNISTLocationTests.allFiles(in: "/usr/share/datasets/fashion-mnist")
        let found = try MNISTLocationTests.location(.fashion, files: files).resolve()
        #expect(found.directory == "/usr/share/datasets/fashion-mnist")
    }

    @Test func notFoundMessageListsEverything() {
        #expect {
            try MNISTLocationTests.location(files: ["/work/project/data/mnist/train-images-idx3-ubyte"]).resolve()
        } throws: { error in
            let text = "\(error)"
            return text.contains("$MNIST_DIR: not set")
                && text.contains(
                    "/work/project/data/mnist (./data/mnist): missing train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte"
                )
                && text.contains("/usr/share/datasets/mnist (Debian's location): no such folder")
                && text.contains("original MNIST distribution")
        }
    }

    @Test(
        .enabled(
            if: RealData.hasFashion,
            "needs /usr/share/datasets/fashion-mnist (apt-get install dataset-fashion-mnist)"))
    func realFashionMNISTIsFoundWhenInstalled() throws {
        let location = MNISTLocation(dataset: .fashion, explicitDirectory: nil, environment: [:])
        #expect(try location.resolve().directory == "/usr/share/datasets/fashion-mnist")
    }
}
