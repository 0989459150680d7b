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
        let data = try loadMNIST(
            images: dir.file("train-images-idx3-ubyte.gz"), labels: dir.file("train-labels-idx1-ubyte"))
        #expect(data.features.shape == [3, 4])
        #expect(data.features.scalars[1] == Float(20.0 / 255))
        #expect(data.labels.scalars == [7, 0, 9])
    }

    static let corrupt: [(String, [UInt8], String)] = [
        ("bad magic", [1, 2, 8, 1, 0, 0, 0, 1, 5], "bad magic number 0x01020801"),
        ("unknown type", [0, 0, 0x42, 1, 0, 0, 0, 1, 5], "unknown element type 0x42"),
        ("too short for magic", [0, 0], "truncated"),
        ("truncated header", [0, 0, 8, 3, 0, 0, 0, 2, 0, 0], "truncated header: 3 dimensions need 16 bytes"),
        (
            "truncated data", idxBytes(type: 0x08, shape: [3, 2, 2], data: Array(repeating: 1, count: 11)),
            "need 12 data bytes but the file has 11 (truncated)"
        ),
        (
            "trailing bytes", idxBytes(type: 0x08, shape: [2], data: [1, 2, 3]),
            "need 2 data bytes but the file has 3 (trailing bytes)"
        ),
        (
            "wrong element size", idxBytes(type: 0x0C, shape: [2], data: [0, 0, 0, 1, 0, 0]),
            "need 8 data bytes but the file has 6"
        ),
        (
            "truncated gzip",
            Array(Gzip.compress(idxBytes(type: 0x08, shape: [100], data: Array(repeating: 3, count: 100))).prefix(15)),
            "gzip stream is truncated"
        ),
        ("corrupt gzip", [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3, 0xFF, 0xFF, 0xFF, 0xFF], "gzip stream is corrupt"),
        (
            "gzip inflating past its header",
            Gzip.compress(idxBytes(type: 0x08, shape: [2], data: [1, 2]) + Array(repeating: 0, count: 1 << 20)),
            "need 2 data bytes but the gzip stream holds more (trailing bytes)"
        ),
        (
            "junk after the gzip stream", Gzip.compress(idxBytes(type: 0x08, shape: [2], data: [1, 2])) + [1, 2, 3],
            "3 bytes after the end of the gzip stream are not gzip data"
        ),
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

    @Test("A gzip file of several members reads as their concatenation")
    func multiMemberGzip() throws {
        let bytes = Self.images
        let members = Gzip.compress(Array(bytes[..<7])) + Gzip.compress(Array(bytes[7...]))
        let array = try IDXArray(bytes: members, file: "members.gz")
        #expect(array.shape == [3, 2, 2])
        #expect(array.data == Array(bytes[16...]))
    }

    @Test("Inflation stops at the limit: a small file that inflates to 64 MiB allocates about the limit")
    func gzipBombIsBounded() throws {
        let bomb = Gzip.compress([UInt8](repeating: 0, count: 1 << 26))
        let (output, isComplete) = try Gzip.decompress(bomb, limit: { _ in 1000 })
        #expect(!isComplete)
        #expect(output.count <= 1000 + (1 << 16))
    }

    struct LabelCase: CustomTestStringConvertible, Sendable {
        var name: String
        var type: UInt8
        var data: [UInt8]
        var classes: Int?
        /// The message's problem, or nil when the labels load.
        var problem: String?
        var testDescription: String { name }
    }

    static func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }

    static let labelCases: [LabelCase] = [
        LabelCase(
            name: "float32 whole numbers", type: 0x0D, data: [Float(7), 0, 9].flatMap { bigEndian($0.bitPattern) },
            classes: 10, problem: nil),
        LabelCase(
            name: "float32 NaN", type: 0x0D, data: [Float(7), .nan, 9].flatMap { bigEndian($0.bitPattern) },
            classes: 10, problem: "label nan at index 1 is not a class 0–9"),
        LabelCase(
            name: "float32 1e20", type: 0x0D, data: [Float(7), 0, 1e20].flatMap { bigEndian($0.bitPattern) },
            classes: 10, problem: "label 1e+20 at index 2 is not a class 0–9"),
        LabelCase(
            name: "float64 infinity", type: 0x0E, data: [Double.infinity, 0, 9].flatMap { bigEndian($0.bitPattern) },
            classes: 10, problem: "label inf at index 0 is not a class 0–9"),
        LabelCase(
            name: "float32 2.5", type: 0x0D, data: [Float(7), 2.5, 9].flatMap { bigEndian($0.bitPattern) },
            classes: nil, problem: "label 2.5 at index 1 is not a class index (a whole number ≥ 0)"),
        LabelCase(
            name: "float32 -0.5", type: 0x0D, data: [Float(-0.5), 0, 9].flatMap { bigEndian($0.bitPattern) },
            classes: nil, problem: "label -0.5 at index 0 is not a class index"),
        LabelCase(
            name: "int32 2^31-1", type: 0x0C, data: [Int32(7), 0, .max].flatMap { bigEndian($0) }, classes: 10,
            problem: "label 2147483647 at index 2 is not a class 0–9"),
        LabelCase(
            name: "int32 2^31-1 beyond Float", type: 0x0C, data: [Int32(7), 0, .max].flatMap { bigEndian($0) },
            classes: nil, problem: "label 2147483647 at index 2 is not a class index"),
        LabelCase(
            name: "int8 -1", type: 0x09, data: [7, 0xFF, 9], classes: 10,
            problem: "label -1 at index 1 is not a class 0–9"),
    ]

    @Test(
        "loadMNIST accepts only whole-number labels in range, and names the first bad one as written",
        arguments: labelCases)
    func labels(_ labelCase: LabelCase) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Data(Self.images).write(to: URL(fileURLWithPath: dir.file("img")))
        try Data(idxBytes(type: labelCase.type, shape: [3], data: labelCase.data)).write(
            to: URL(fileURLWithPath: dir.file("lbl")))
        guard let problem = labelCase.problem else {
            let data = try loadMNIST(images: dir.file("img"), labels: dir.file("lbl"), classes: labelCase.classes)
            #expect(classIndices(data.labels) == [7, 0, 9])
            return
        }
        let error = #expect(throws: NNError.self) {
            try loadMNIST(images: dir.file("img"), labels: dir.file("lbl"), classes: labelCase.classes)
        }
        #expect(
            "\(error!)" == "IDX file \(dir.file("lbl")): \(problem)"
                || "\(error!)".hasPrefix("IDX file \(dir.file("lbl")): \(problem)"))
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
