import AutoDiff
import Foundation

/// An array read from an IDX file (the MNIST format), gzip-compressed or raw.
///
/// Layout: two zero bytes, a type byte, a rank byte, then `rank` big-endian 32-bit dimensions,
/// then `∏ dims` big-endian elements of the type. The reader checks every part and throws
/// ``NNError/idx(file:problem:)`` naming the file and the problem (bad magic, unknown type,
/// truncated header, a data size that does not match the dimensions, a corrupt gzip stream);
/// it never traps on a malformed file.
public struct IDXArray: Sendable {
    /// The element types of the format, by their type byte.
    public enum DataType: UInt8, Sendable {
        /// Unsigned bytes (MNIST's pixels and labels).
        case uint8 = 0x08
        /// Signed bytes.
        case int8 = 0x09
        /// Big-endian 16-bit signed integers.
        case int16 = 0x0B
        /// Big-endian 32-bit signed integers.
        case int32 = 0x0C
        /// Big-endian IEEE 754 single-precision floats.
        case float32 = 0x0D
        /// Big-endian IEEE 754 double-precision floats.
        case float64 = 0x0E

        /// Bytes per element.
        public var size: Int {
            switch self {
            case .uint8, .int8: 1
            case .int16: 2
            case .int32, .float32: 4
            case .float64: 8
            }
        }
    }

    /// The element type, from the header's third byte.
    public let dataType: DataType
    /// The dimensions from the header (for MNIST images `[60000, 28, 28]`).
    public let shape: [Int]
    /// The element bytes as stored (big-endian).
    public let data: [UInt8]

    /// The number of elements.
    public var count: Int { shape.reduce(1, *) }

    /// Reads and validates the file at `path` (gzip is detected by its magic bytes).
    public init(contentsOf path: String) throws {
        let bytes: [UInt8]
        do {
            bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw NNError.idx(file: path, problem: "cannot be read (\(error.localizedDescription))")
        }
        try self.init(bytes: bytes, file: path)
    }

    /// Parses IDX bytes (gzip or raw); `file` names the source in errors.
    ///
    /// A gzip file is inflated only as far as its IDX header says the file holds, and not at all
    /// past the machine's memory: a small file that inflates to gigabytes fails before allocating them.
    public init(bytes fileBytes: [UInt8], file: String) throws {
        var bytes = fileBytes
        var gzipHoldsMore = false
        if Gzip.isCompressed(bytes) {
            do {
                let (output, isComplete) = try Gzip.decompress(bytes, limit: IDXArray.declaredSize)
                bytes = output
                gzipHoldsMore = !isComplete
            } catch {
                throw NNError.idx(file: file, problem: error.problem)
            }
        }
        func fail(_ problem: String) -> NNError { .idx(file: file, problem: problem) }
        guard bytes.count >= 4 else {
            throw fail("truncated: \(bytes.count) bytes, shorter than the 4-byte magic number")
        }
        guard bytes[0] == 0, bytes[1] == 0 else {
            throw fail(
                String(
                    format: "bad magic number 0x%02X%02X%02X%02X (an IDX file starts with two zero bytes)", bytes[0],
                    bytes[1], bytes[2], bytes[3]))
        }
        guard let type = DataType(rawValue: bytes[2]) else {
            throw fail(String(format: "bad magic number: unknown element type 0x%02X", bytes[2]))
        }
        let rank = Int(bytes[3])
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else {
            throw fail("truncated header: \(rank) dimensions need \(headerSize) bytes, the file has \(bytes.count)")
        }
        let shape = IDXArray.dimensions(bytes, rank: rank)
        guard let expected = IDXArray.dataSize(shape, type) else { throw fail("dimensions \(shape) are too large") }
        guard expected <= PhysicalMemory.bytes else {
            throw fail(
                "dimensions \(shape) of \(type) need \(PhysicalMemory.describe(expected)), more than this machine's \(PhysicalMemory.describe(PhysicalMemory.bytes)) of memory"
            )
        }
        let actual = bytes.count - headerSize
        guard actual == expected && !gzipHoldsMore else {
            let holds = gzipHoldsMore ? "the gzip stream holds more" : "the file has \(actual)"
            throw fail(
                "dimensions \(shape) of \(type) need \(expected) data bytes but \(holds)\(actual < expected ? " (truncated)" : " (trailing bytes)")"
            )
        }
        dataType = type
        self.shape = shape
        data = Array(bytes[headerSize...])
    }

    /// The `rank` big-endian dimensions after the 4-byte magic number of `bytes`.
    private static func dimensions(_ bytes: [UInt8], rank: Int) -> [Int] {
        (0..<rank).map { d in
            let o = 4 + 4 * d
            return Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3])
        }
    }

    /// The data bytes `shape` of `type` holds; `nil` when the product overflows (dimensions are
    /// < 2³², so up to 255 of them may).
    private static func dataSize(_ shape: [Int], _ type: DataType) -> Int? {
        var size = type.size
        for d in shape {
            let (p, overflow) = size.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            size = p
        }
        return size
    }

    /// How many bytes a decompressed IDX file whose first bytes are `prefix` may hold: unbounded
    /// until the header is complete, then the header plus the data it declares. A header that is
    /// invalid or declares more than memory stops inflation at once; the parser then names the problem.
    private static func declaredSize(_ prefix: [UInt8]) -> Int {
        guard prefix.count >= 4 else { return .max }
        guard prefix[0] == 0, prefix[1] == 0, let type = DataType(rawValue: prefix[2]) else { return 4 }
        let headerSize = 4 + 4 * Int(prefix[3])
        guard prefix.count >= headerSize else { return .max }
        guard let size = dataSize(dimensions(prefix, rank: Int(prefix[3])), type), size <= PhysicalMemory.bytes
        else { return headerSize }
        return headerSize + size
    }

    /// The elements converted to `Scalar` and multiplied by `scale` (e.g. `1/255` for pixels),
    /// in `shape`.
    public func tensor<Scalar: TensorScalar>(_: Scalar.Type = Float.self, scale: Double = 1) -> Tensor<Scalar> {
        if dataType == .uint8 {
            // The common case (images, labels): one pass in AutoDiff's specialised initializer.
            return data.withUnsafeBufferPointer { Tensor(shape: shape, integers: $0, scale: Scalar(scale)) }
        }
        var out = Tensor<Scalar>.zeros(shape)
        data.withUnsafeBufferPointer { bytes in
            out.withUnsafeMutableBufferPointer { decodeIDXElements(bytes, dataType, scale, into: $0) }
        }
        return out
    }

    /// The elements as integers (for label files).
    public var integers: [Int] {
        let t: Tensor<Double> = tensor(Double.self)
        return t.scalars.map { Int($0) }
    }
}

/// The base names of the four IDX files of an MNIST-format data set (MNIST, Fashion-MNIST), in
/// the order train images, train labels, test images, test labels.
public let mnistFileNames = [
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
]

/// Looks for the four ``mnistFileNames`` in `folder`, each raw or gzip-compressed (`.gz`; raw
/// preferred): the paths found, in that order, and the names of the files that are in neither
/// form. `fileExists` decides what counts as present (regular files, by default).
public func locateMNISTFiles(
    in folder: String,
    fileExists: (String) -> Bool = { path in
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
    }
) -> (found: [String], missing: [String]) {
    var found: [String] = []
    var missing: [String] = []
    for name in mnistFileNames {
        let raw = (folder as NSString).appendingPathComponent(name)
        if fileExists(raw) {
            found.append(raw)
        } else if fileExists(raw + ".gz") {
            found.append(raw + ".gz")
        } else {
            missing.append(name)
        }
    }
    return (found, missing)
}

/// Loads an MNIST-style pair of IDX files: images `[N, rows, cols]` (uint8) become features
/// `[N, rows·cols]` scaled to `[0, 1]`, labels `[N]` become class indices. Throws
/// ``NNError/idx(file:problem:)`` when either file is malformed, the counts differ, or a label is
/// not a class index: a whole number ≥ 0 (below `classes` when given) that `Scalar` holds exactly.
/// Labels of any IDX element type are accepted; `2.5`, `-0.5`, NaN and infinities are refused,
/// never rounded.
public func loadMNIST<Scalar: TensorScalar>(
    images imagesPath: String, labels labelsPath: String, classes: Int? = nil, as _: Scalar.Type = Float.self
) throws -> Dataset<Scalar> {
    let images = try IDXArray(contentsOf: imagesPath)
    let labels = try IDXArray(contentsOf: labelsPath)
    guard images.shape.count >= 2 else {
        throw NNError.idx(
            file: imagesPath, problem: "expected images with at least 2 dimensions, got shape \(images.shape)")
    }
    guard labels.shape.count == 1 else {
        throw NNError.idx(file: labelsPath, problem: "expected labels with 1 dimension, got shape \(labels.shape)")
    }
    guard images.shape[0] == labels.shape[0] else {
        throw NNError.idx(
            file: labelsPath, problem: "has \(labels.shape[0]) labels but \(imagesPath) has \(images.shape[0]) images")
    }
    // Checked in Double, which holds every IDX element exactly (int32 2³¹−1 included), before the
    // conversion to Scalar could round a label into a class.
    let values = labels.tensor(Double.self).scalars
    if let bad = values.indices.first(where: { !isClassIndex(values[$0], classes: classes, as: Scalar.self) }) {
        let expected = classes.map { "a class 0–\($0 - 1)" } ?? "a class index (a whole number ≥ 0)"
        throw NNError.idx(
            file: labelsPath,
            problem: "label \(labels.describe(values[bad])) at index \(bad) is not \(expected)")
    }
    let n = images.shape[0]
    let features = images.tensor(Scalar.self, scale: images.dataType == .uint8 ? 1.0 / 255 : 1)
    return Dataset(
        features: features.reshaped([n, images.count / Swift.max(n, 1)]).detached(), labels: labels.tensor(Scalar.self))
}

/// Whether `value` is a whole number in `0..<classes` (any ≥ 0 without `classes`) that `Scalar`
/// represents exactly.
private func isClassIndex<Scalar: TensorScalar>(_ value: Double, classes: Int?, as _: Scalar.Type) -> Bool {
    guard value >= 0, value.rounded() == value, Scalar(exactly: value) != nil else { return false }
    guard let classes else { return true }
    return value < Double(classes)
}

extension IDXArray {
    /// An element as written in the file: whole numbers without a fraction (`2147483647`), float32
    /// elements at float32 precision (`1e+20`), others as Double (`2.5`, `nan`, `inf`).
    fileprivate func describe(_ value: Double) -> String {
        if value.rounded() == value, let whole = Int64(exactly: value) { return String(whole) }
        return dataType == .float32 ? String(Float(value)) : String(value)
    }
}

/// Converts big-endian IDX elements to `S` (specialised: MNIST's 47 million pixels would take
/// seconds through unspecialised generic arithmetic).
@_specialize(where S == Float)
@_specialize(where S == Double)
func decodeIDXElements<S: TensorScalar>(
    _ b: UnsafeBufferPointer<UInt8>, _ type: IDXArray.DataType, _ scale: Double, into out: UnsafeMutableBufferPointer<S>
) {
    @inline(__always) func be(_ i: Int, _ n: Int) -> UInt64 {
        var v: UInt64 = 0
        for k in 0..<n { v = v << 8 | UInt64(b[i * n + k]) }
        return v
    }
    switch type {
    case .uint8: for i in out.indices { out[i] = S(Double(b[i]) * scale) }
    case .int8: for i in out.indices { out[i] = S(Double(Int8(bitPattern: b[i])) * scale) }
    case .int16: for i in out.indices { out[i] = S(Double(Int16(truncatingIfNeeded: be(i, 2))) * scale) }
    case .int32: for i in out.indices { out[i] = S(Double(Int32(truncatingIfNeeded: be(i, 4))) * scale) }
    case .float32: for i in out.indices { out[i] = S(Double(Float(bitPattern: UInt32(be(i, 4)))) * scale) }
    case .float64: for i in out.indices { out[i] = S(Double(bitPattern: be(i, 8)) * scale) }
    }
}
