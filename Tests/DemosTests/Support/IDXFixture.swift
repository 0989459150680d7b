import Foundation
import NN

/// Small MNIST-format data sets written by the tests, so the IDX path runs without the real files.
enum IDXFixture {
    /// The bytes of an IDX file of unsigned bytes with `shape`.
    static func idx(shape: [Int], values: [UInt8]) -> [UInt8] {
        idx(type: .uint8, shape: shape, data: values)
    }

    /// The bytes of an IDX file of `type` with `shape`; `data` holds the big-endian elements.
    static func idx(type: IDXArray.DataType, shape: [Int], data: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [0, 0, type.rawValue, UInt8(shape.count)]
        for dimension in shape {
            bytes += [
                UInt8(dimension >> 24 & 0xFF), UInt8(dimension >> 16 & 0xFF), UInt8(dimension >> 8 & 0xFF),
                UInt8(dimension & 0xFF),
            ]
        }
        return bytes + data
    }

    /// The labels file of the toy test set (50 labels) with its last label replaced by `last`,
    /// as float32, float64 or int32 elements.
    static func testLabels(float32 last: Float) -> [UInt8] {
        idx(
            type: .float32, shape: [50],
            data: (0..<49).flatMap { bigEndian(Float($0 % 10).bitPattern) } + bigEndian(last.bitPattern))
    }

    static func testLabels(float64 last: Double) -> [UInt8] {
        idx(
            type: .float64, shape: [50],
            data: (0..<49).flatMap { bigEndian(Double($0 % 10).bitPattern) } + bigEndian(last.bitPattern))
    }

    static func testLabels(int32 last: Int32) -> [UInt8] {
        idx(type: .int32, shape: [50], data: (0..<49).flatMap { bigEndian(Int32($0 % 10)) } + bigEndian(last))
    }

    private static func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }

    /// Writes the four files of a learnable toy data set into `folder`: 28 × 28 images whose
    /// class `c` lights up row band `c` (plus a little deterministic noise); the training files
    /// gzip-compressed, the test files raw, as both occur in the wild.
    static func writeToyDataSet(in folder: URL, trainCount: Int = 200, testCount: Int = 50, labelOffset: Int = 0) throws
    {
        func images(_ count: Int, seed: Int) -> (images: [UInt8], labels: [UInt8]) {
            var pixels: [UInt8] = []
            var labels: [UInt8] = []
            var state = UInt32(truncatingIfNeeded: seed &* 2_654_435_761 &+ 1)
            for index in 0..<count {
                let label = index % 10
                labels.append(UInt8(label + labelOffset))
                for row in 0..<28 {
                    for _ in 0..<28 {
                        state = state &* 1_664_525 &+ 1_013_904_223
                        let noise = UInt8(state >> 27)  // 0…31
                        pixels.append(row / 2 == label + 2 ? 200 + noise : noise)
                    }
                }
            }
            return (pixels, labels)
        }
        let train = images(trainCount, seed: 1)
        let test = images(testCount, seed: 2)
        try write(
            Gzip.compress(idx(shape: [trainCount, 28, 28], values: train.images)), folder, "train-images-idx3-ubyte.gz")
        try write(Gzip.compress(idx(shape: [trainCount], values: train.labels)), folder, "train-labels-idx1-ubyte.gz")
        try write(idx(shape: [testCount, 28, 28], values: test.images), folder, "t10k-images-idx3-ubyte")
        try write(idx(shape: [testCount], values: test.labels), folder, "t10k-labels-idx1-ubyte")
    }

    static func write(_ bytes: [UInt8], _ folder: URL, _ name: String) throws {
        try Data(bytes).write(to: folder.appendingPathComponent(name))
    }
}
