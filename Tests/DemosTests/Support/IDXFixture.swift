import Foundation
import NN

/// Small MNIST-format data sets written by the tests, so the IDX path runs without the real files.
enum IDXFixture {
    /// The bytes of an IDX file of unsigned bytes with `shape`.
    static func idx(shape: [Int], values: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [0, 0, 0x08, UInt8(shape.count)]
        for dimension in shape {
            bytes += [
                UInt8(dimension >> 24 & 0xFF), UInt8(dimension >> 16 & 0xFF), UInt8(dimension >> 8 & 0xFF),
                UInt8(dimension & 0xFF),
            ]
        }
        return bytes + values
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
