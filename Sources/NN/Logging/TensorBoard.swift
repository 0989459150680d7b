import AutoDiff
import Foundation

/// Writes TensorBoard event files, as PyTorch's `SummaryWriter` does: scalars (losses,
/// accuracies, the learning rate) and histograms (weights), each at a step, so
/// `tensorboard --logdir DIR` shows the run.
///
/// ```swift
/// let writer = try TensorBoardWriter(directory: "runs/moons")
/// for step in 1...100 {
///     … train …
///     try writer.addScalar("loss/train", loss, step: step)
/// }
/// try writer.addHistograms(of: model, step: 100)   // one per parameter, tagged by its path
/// ```
///
/// The file is `DIR/events.out.tfevents.<seconds since 1970>.<host>`, in TensorFlow's format: a
/// sequence of TFRecords (``TFRecord``), each holding one `Event` protocol buffer (``TensorBoardEvent``);
/// the first event holds only `file_version` `"brain.Event:2"`. Every event is appended with one
/// `write(2)` (``AppendingFile``), so TensorBoard sees it at once and a crash loses nothing written.
///
/// `Sendable`: it holds only its path and an ``AppendingFile``; events appended from several
/// threads are each whole, in the order the calls happen.
public final class TensorBoardWriter: Sendable {
    /// The event file's path.
    public let path: String
    private let file: AppendingFile
    private let clock: @Sendable () -> Double

    /// Creates `directory` (and its parents) when missing and starts a new event file in it.
    ///
    /// - Parameters:
    ///   - directory: the folder the event file goes in (`tensorboard --logdir` points at it).
    ///   - host: the host name in the file name (default: this machine's, from `gethostname`, with
    ///     no name lookup).
    ///   - clock: seconds since 1970 for the file name and each event's `wall_time`
    ///     (injectable for tests).
    /// - Throws: ``LogFileError`` naming the folder or file when it cannot be created.
    public init(
        directory: String, host: String = TensorBoardWriter.localHostName(),
        clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }
    ) throws(LogFileError) {
        switch FileKind(atPath: directory) {
        case .folder: break
        case .missing:
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw LogFileError(
                    path: directory, problem: "cannot be created as a folder (\(error.localizedDescription))")
            }
        case let kind:
            throw LogFileError(path: directory, problem: "is \(kind), not a folder")
        }
        let started = clock()
        let base = (directory as NSString).appendingPathComponent(
            "events.out.tfevents.\(Int(started)).\(host.isEmpty ? "localhost" : host)")
        // Two writers started in the same second on one host: the later one gets a suffix.
        var candidate = base
        var attempt = 1
        while FileKind(atPath: candidate, followingLinks: false) != .missing {
            attempt += 1
            candidate = "\(base).\(attempt)"
        }
        file = try AppendingFile(path: candidate, exclusive: true)
        path = candidate
        self.clock = clock
        try append(TensorBoardEvent(wallTime: started, step: 0, content: .fileVersion("brain.Event:2")))
    }

    /// Appends a scalar (`simple_value`, a 32-bit float in the format) under `tag` at `step`.
    public func addScalar(_ tag: String, _ value: Double, step: Int) throws(LogFileError) {
        try addScalars([(tag, value)], step: step)
    }

    /// Appends several scalars at one `step` as one event (one write for the lot).
    public func addScalars(_ scalars: [(tag: String, value: Double)], step: Int) throws(LogFileError) {
        try append(
            TensorBoardEvent(
                wallTime: clock(), step: Int64(step),
                content: .summary(scalars.map { .scalar(tag: $0.tag, Float($0.value)) })))
    }

    /// Appends a histogram of `values` under `tag` at `step` (``TensorBoardHistogram``).
    public func addHistogram(_ tag: String, values: [Double], step: Int) throws(LogFileError) {
        let histogram = TensorBoardHistogram(values: values)
        try append(
            TensorBoardEvent(
                wallTime: clock(), step: Int64(step), content: .summary([.histogram(tag: tag, histogram)])))
    }

    /// Appends a histogram of every parameter of `model`, tagged by its path after `tagPrefix`
    /// (`weights/layers.0.weight`).
    public func addHistograms<Model: Layer>(of model: Model, step: Int, tagPrefix: String = "") throws(LogFileError) {
        for named in model.namedParameters {
            try addHistogram(
                tagPrefix + named.name, values: named.parameter.value.scalars.map { Double($0) }, step: step)
        }
    }

    /// This machine's name as `gethostname` gives it (`localhost` when it fails).
    public static func localHostName() -> String {
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, name.count - 1) == 0 else { return "localhost" }
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func append(_ event: TensorBoardEvent) throws(LogFileError) {
        try file.append(TFRecord.framed(event.encoded()))
    }
}

/// TensorFlow's record framing: `uint64 length`, `uint32 masked CRC-32C of the length`, the data,
/// `uint32 masked CRC-32C of the data`, all little-endian.
public enum TFRecord {
    /// One record holding `data`.
    public static func framed(_ data: [UInt8]) -> [UInt8] {
        let length = littleEndian(UInt64(data.count), bytes: 8)
        return length + littleEndian(UInt64(maskedCRC(length)), bytes: 4) + data
            + littleEndian(UInt64(maskedCRC(data)), bytes: 4)
    }

    /// TensorFlow's masked CRC: the CRC-32C rotated right by 15 bits plus `0xa282ead8`, so that a
    /// CRC of data holding CRCs stays well distributed.
    public static func maskedCRC(_ bytes: [UInt8]) -> UInt32 {
        let crc = CRC32C.checksum(bytes)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    private static func littleEndian(_ value: UInt64, bytes: Int) -> [UInt8] {
        (0..<bytes).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
    }
}

/// CRC-32C (Castagnoli, reflected polynomial `0x82F63B78`), the checksum of TFRecords; zlib has
/// only the other CRC-32. Byte at a time from a 256-entry table.
public enum CRC32C {
    private static let table: [UInt32] = (0..<256).map { index -> UInt32 in
        var crc = UInt32(index)
        for _ in 0..<8 { crc = crc & 1 != 0 ? 0x82F6_3B78 ^ (crc >> 1) : crc >> 1 }
        return crc
    }

    /// The CRC-32C of `bytes` (`"123456789"` → `0xE3069283`).
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}

/// A histogram as TensorBoard's `HistogramProto` holds it: the count, sum, sum of squares, range,
/// and bucket counts with each bucket's right edge (bucket `i` covers `(limits[i−1], limits[i]]`,
/// the first from `min`).
public struct TensorBoardHistogram: Equatable, Sendable {
    /// The smallest value.
    public var min: Double
    /// The largest value.
    public var max: Double
    /// How many values (a double, as the format has it).
    public var count: Double
    /// Σx of the values.
    public var sum: Double
    /// Σx² of the values.
    public var sumOfSquares: Double
    /// The right edge of each bucket, ascending.
    public var bucketLimits: [Double]
    /// The number of values in each bucket.
    public var bucketCounts: [Double]

    /// `buckets` equal-width buckets from the smallest to the largest finite value (one bucket
    /// when they are equal or there are none); non-finite values are left out.
    public init(values: [Double], buckets: Int = 30) {
        let finite = values.filter(\.isFinite)
        let low = finite.min() ?? 0
        let high = finite.max() ?? 0
        min = low
        max = high
        count = Double(finite.count)
        sum = finite.reduce(0, +)
        sumOfSquares = finite.reduce(0) { $0 + $1 * $1 }
        let bucketCount = high > low ? Swift.max(buckets, 1) : 1
        let width = (high - low) / Double(bucketCount)
        bucketLimits = (1...bucketCount).map { $0 == bucketCount ? high : low + width * Double($0) }
        var counts = [Double](repeating: 0, count: bucketCount)
        for value in finite {
            let index = width > 0 ? Int(((value - low) / width).rounded(.up)) - 1 : 0
            counts[Swift.min(Swift.max(index, 0), bucketCount - 1)] += 1
        }
        bucketCounts = counts
    }
}

/// One `Event` protocol buffer of an event file, encoded by hand (varints, fixed-width numbers
/// and length-delimited fields are all the format needs).
///
/// Field numbers from TensorFlow's `event.proto` and `summary.proto`: `Event` — 1 `wall_time`
/// (double), 2 `step` (int64), 3 `file_version` (string), 5 `summary`; `Summary` — 1 `value`
/// (repeated); `Summary.Value` — 1 `tag`, 2 `simple_value` (float), 5 `histo`; `HistogramProto` —
/// 1 `min`, 2 `max`, 3 `num`, 4 `sum`, 5 `sum_squares` (doubles), 6 `bucket_limit`, 7 `bucket`
/// (packed doubles).
public struct TensorBoardEvent: Equatable, Sendable {
    /// What an event carries.
    public enum Content: Equatable, Sendable {
        /// The first event of a file: `"brain.Event:2"`.
        case fileVersion(String)
        /// Summary values (scalars, histograms).
        case summary([SummaryValue])
    }

    /// One tagged value of a `Summary`.
    public enum SummaryValue: Equatable, Sendable {
        /// A number (`simple_value`): one point of a curve.
        case scalar(tag: String, Float)
        /// A distribution (`histo`), e.g. of one weight matrix.
        case histogram(tag: String, TensorBoardHistogram)
    }

    /// Seconds since 1970.
    public var wallTime: Double
    /// The step the values belong to (the x axis of TensorBoard's charts).
    public var step: Int64
    /// The file version or the summary values.
    public var content: Content

    /// An event of `content` at `step`, stamped `wallTime`.
    public init(wallTime: Double, step: Int64, content: Content) {
        self.wallTime = wallTime
        self.step = step
        self.content = content
    }

    /// The protocol-buffer bytes of the event.
    public func encoded() -> [UInt8] {
        var event = ProtobufWriter()
        event.double(1, wallTime)
        event.varint(2, UInt64(bitPattern: step))
        switch content {
        case .fileVersion(let version): event.bytes(3, Array(version.utf8))
        case .summary(let values):
            var summary = ProtobufWriter()
            for value in values {
                var entry = ProtobufWriter()
                switch value {
                case .scalar(let tag, let number):
                    entry.bytes(1, Array(tag.utf8))
                    entry.float(2, number)
                case .histogram(let tag, let histogram):
                    entry.bytes(1, Array(tag.utf8))
                    var histo = ProtobufWriter()
                    histo.double(1, histogram.min)
                    histo.double(2, histogram.max)
                    histo.double(3, histogram.count)
                    histo.double(4, histogram.sum)
                    histo.double(5, histogram.sumOfSquares)
                    histo.packedDoubles(6, histogram.bucketLimits)
                    histo.packedDoubles(7, histogram.bucketCounts)
                    entry.bytes(5, histo.output)
                }
                summary.bytes(1, entry.output)
            }
            event.bytes(5, summary.output)
        }
        return event.output
    }
}

/// The few protocol-buffer encodings an event needs.
struct ProtobufWriter {
    private(set) var output: [UInt8] = []

    /// Wire type 0: `value` as a base-128 varint.
    mutating func varint(_ field: Int, _ value: UInt64) {
        key(field, wireType: 0)
        appendVarint(value)
    }

    /// Wire type 1: a little-endian double.
    mutating func double(_ field: Int, _ value: Double) {
        key(field, wireType: 1)
        appendLittleEndian(value.bitPattern, bytes: 8)
    }

    /// Wire type 5: a little-endian float.
    mutating func float(_ field: Int, _ value: Float) {
        key(field, wireType: 5)
        appendLittleEndian(UInt64(value.bitPattern), bytes: 4)
    }

    /// Wire type 2: a length, then `data` (strings, nested messages).
    mutating func bytes(_ field: Int, _ data: [UInt8]) {
        key(field, wireType: 2)
        appendVarint(UInt64(data.count))
        output += data
    }

    /// Wire type 2: a repeated double field, packed.
    mutating func packedDoubles(_ field: Int, _ values: [Double]) {
        key(field, wireType: 2)
        appendVarint(UInt64(values.count * 8))
        for value in values { appendLittleEndian(value.bitPattern, bytes: 8) }
    }

    private mutating func key(_ field: Int, wireType: UInt64) { appendVarint(UInt64(field) << 3 | wireType) }

    private mutating func appendVarint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            output.append(UInt8(rest & 0x7F) | 0x80)
            rest >>= 7
        }
        output.append(UInt8(rest))
    }

    private mutating func appendLittleEndian(_ value: UInt64, bytes: Int) {
        for index in 0..<bytes { output.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(index)))) }
    }
}
