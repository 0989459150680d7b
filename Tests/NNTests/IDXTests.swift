import AutoDiff
import Foundation
import Testing
@testable import NN

/// IDX bytes: magic (0, 0, type, rank), big-endian dimensions, data.
func idxBytes(type: UInt8, shape: [Int], data: [UInt8]) -> [UInt8] {
    var bytes: [UInt8] = [0, 0, type, UInt8(shape.count)]
    for d in shape { bytes += [UInt8(d >> 24 & 0xFF), UInt8(d >> 16 & 0xFF), UInt8(d >> 8 & 0xFF), UInt8(d & 0xFF)] }
    return bytes + data
}

@Suite("IDX")
struct IDXTests {
    static let images = idxBytes(type: 0x08, shape: [3, 2, 2], data: (0..<12).map { UInt8($0 * 20) })
    static let labels = idxBytes(type: 0x08, shape: [3], data: [7, 0, 9])

    @Test("Reads raw and gzip files to the same array", arguments: ["raw", "gzip"])
    func reads(encoding: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("images.idx")
        let bytes = encoding == "gzip" ? Gzip.compress(Self.images) : Self.images
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let array = try IDXArray(contentsOf: path)
        #expect(array.dataType == .uint8)
        #expect(array.shape == [3, 2, 2])
        #expect(array.tensor(Float.self).scalars == (0..<12).map { Float($0 * 20) })
    }

    @Test("Decodes every element type big-endian")
    func elementTypes() throws {
        let i16 = try IDXArray(bytes: idxBytes(type: 0x0B, shape: [2], data: [0xFF, 0xFE, 0x01, 0x00]), file: "a")
        #expect(i16.tensor(Double.self).scalars == [-2, 256])
        let f32 = try IDXArray(bytes: idxBytes(type: 0x0D, shape: [1], data: [0x3F, 0xC0, 0, 0]), file: "b")
        #expect(f32.tensor(Double.self).scalars == [1.5])
        let i8 = try IDXArray(bytes: idxBytes(type: 0x09, shape: [2], data: [0xFF, 0x05]), file: "c")
        #expect(i8.integers == [-1, 5])
    }

    @Test("loadMNIST scales pixels to [0, 1] and flattens images")
    func mnist() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Data(Gzip.compress(Self.images)).write(to: URL(fileURLWithPath: dir.file("train-images-idx3-ubyte.gz")))
        try Data(Self.labels).write(to: URL(fileURLWithPath: dir.file("train-labels-idx1-ubyte")))
        let data = try loadMNIST(images: dir.file("train-images-idx3-ubyte.gz"), labels: dir.file("train-labels-idx1-ubyte"))
        #expect(data.features.shape == [3, 4])
        #expect(data.features.scalars[1] == Float(20.0 / 255))
        #expect(data.labels.scalars == [7, 0, 9])
    }

    static let corrupt: [(String, [UInt8], String)] = [
        ("bad magic", [1, 2, 8, 1, 0, 0, 0, 1, 5], "bad magic number 0x01020801"),
        ("unknown type", [0, 0, 0x42, 1, 0, 0, 0, 1, 5], "unknown element type 0x42"),
        ("too short for magic", [0, 0], "truncated"),
        ("truncated header", [0, 0, 8, 3, 0, 0, 0, 2, 0, 0], "truncated header: 3 dimensions need 16 bytes"),
        ("truncated data", idxBytes(type: 0x08, shape: [3, 2, 2], data: Array(repeating: 1, count: 11)), "need 12 data bytes but the file has 11 (truncated)"),
        ("trailing bytes", idxBytes(type: 0x08, shape: [2], data: [1, 2, 3]), "need 2 data bytes but the file has 3 (trailing bytes)"),
        ("wrong element size", idxBytes(type: 0x0C, shape: [2], data: [0, 0, 0, 1, 0, 0]), "need 8 data bytes but the file has 6"),
        ("truncated gzip", Array(Gzip.compress(idxBytes(type: 0x08, shape: [100], data: Array(repeating: 3, count: 100))).prefix(15)), "gzip stream is truncated"),
        ("corrupt gzip", [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3, 0xFF, 0xFF, 0xFF, 0xFF], "gzip stream is corrupt"),
    ]

    @Test("Rejects corrupt files with a message naming the file and the problem", arguments: corrupt.map(\.0))
    func rejects(name: String) throws {
        let (_, bytes, problem) = Self.corrupt.first { $0.0 == name }!
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("broken.idx")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: NNError.self, "\(name)") { try IDXArray(contentsOf: path) }
        let message = error.map { "\($0)" } ?? ""
        #expect(message.hasPrefix("IDX file \(path): "), "\(name): \(message)")
        #expect(message.contains(problem), "\(name): \(message)")
    }

    @Test("locateMNISTFiles finds raw or gzip files in order and names the missing ones")
    func locatesFiles() {
        let present: Set<String> = [
            "/d/train-images-idx3-ubyte", "/d/train-images-idx3-ubyte.gz", "/d/train-labels-idx1-ubyte.gz",
            "/d/t10k-labels-idx1-ubyte",
        ]
        let (found, missing) = locateMNISTFiles(in: "/d", fileExists: { present.contains($0) })
        #expect(found == ["/d/train-images-idx3-ubyte", "/d/train-labels-idx1-ubyte.gz", "/d/t10k-labels-idx1-ubyte"])
        #expect(missing == ["t10k-images-idx3-ubyte"])
    }

    @Test("A missing file is an error naming it")
    func missing() {
        let error = #expect(throws: NNError.self) { try IDXArray(contentsOf: "/nonexistent/x.idx") }
        #expect("\(error!)".contains("/nonexistent/x.idx"))
    }

    @Test("Label count not matching image count is an error naming both files")
    func countMismatch() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Data(Self.images).write(to: URL(fileURLWithPath: dir.file("img")))
        try Data(idxBytes(type: 0x08, shape: [2], data: [1, 2])).write(to: URL(fileURLWithPath: dir.file("lbl")))
        let error = #expect(throws: NNError.self) { try loadMNIST(images: dir.file("img"), labels: dir.file("lbl")) }
        #expect("\(error!)" == "IDX file \(dir.file("lbl")): has 2 labels but \(dir.file("img")) has 3 images")
    }
}
