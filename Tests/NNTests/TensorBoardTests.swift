import AutoDiff
import Foundation
import Testing

@testable import NN

@Suite("TensorBoard event files")
struct TensorBoardTests {
    @Test(
        arguments: [
            (Array("123456789".utf8), 0xE306_9283),
            ([UInt8](repeating: 0, count: 32), 0x8A91_36AA),  // RFC 3720 (iSCSI), B.4
            ([UInt8](repeating: 0xFF, count: 32), 0x62A8_AB43),
            ((0..<32).map { UInt8($0) }, 0x46DD_794E),
            ([], 0),
        ] as [([UInt8], UInt32)])
    func crc32cMatchesKnownVectors(bytes: [UInt8], crc: UInt32) {
        #expect(CRC32C.checksum(bytes) == crc)
    }

    /// The masked CRCs of an empty record, as TensorFlow's writer (and tensorboard's reader) compute them.
    @Test func emptyRecordIsFramedAsTensorFlowFramesIt() {
        let record = TFRecord.framed([])
        #expect(record == [0, 0, 0, 0, 0, 0, 0, 0, 0x29, 0x03, 0x98, 0x07, 0xD8, 0xEA, 0x82, 0xA2])
    }

    @Test func recordHoldsLengthDataAndBothChecksums() {
        let data = Array("brain.Event:2".utf8)
        let record = TFRecord.framed(data)
        func littleEndian(_ range: Range<Int>) -> UInt64 {
            record[range].reversed().reduce(0) { $0 << 8 | UInt64($1) }
        }
        #expect(record.count == 8 + 4 + data.count + 4)
        #expect(littleEndian(0..<8) == UInt64(data.count))
        #expect(UInt32(littleEndian(8..<12)) == TFRecord.maskedCRC(Array(record[0..<8])))
        #expect(Array(record[12..<(12 + data.count)]) == data)
        #expect(UInt32(littleEndian((12 + data.count)..<record.count)) == TFRecord.maskedCRC(data))
        // The mask: rotate right 15, add 0xa282ead8.
        #expect(TFRecord.maskedCRC([]) == 0xA282_EAD8)
    }

    /// Event{wall_time: 1, step: 2, summary{value{tag: "a", simple_value: 0.5}}}, encoded by hand.
    @Test func scalarEventEncodesAsProtobuf() {
        let event = TensorBoardEvent(wallTime: 1, step: 2, content: .summary([.scalar(tag: "a", 0.5)]))
        #expect(
            event.encoded() == [
                0x09, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F,  // 1: wall_time, double 1.0
                0x10, 0x02,  // 2: step, varint 2
                0x2A, 0x0A,  // 5: summary, 10 bytes
                0x0A, 0x08,  // Summary 1: value, 8 bytes
                0x0A, 0x01, 0x61,  // Value 1: tag "a"
                0x15, 0, 0, 0, 0x3F,  // Value 2: simple_value, float 0.5
            ])
        let version = TensorBoardEvent(wallTime: 0, step: 300, content: .fileVersion("v"))
        #expect(version.encoded() == [0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0xAC, 0x02, 0x1A, 0x01, 0x76])
    }

    @Test func histogramBucketsCountEveryFiniteValueOnce() {
        let histogram = TensorBoardHistogram(values: [0, 1, 2, 3, 4, .nan, 4], buckets: 4)
        #expect(histogram.min == 0 && histogram.max == 4 && histogram.count == 6)
        #expect(histogram.sum == 14 && histogram.sumOfSquares == 46)
        #expect(histogram.bucketLimits == [1, 2, 3, 4])
        // (−∞, 1] holds 0 and 1; (1, 2] holds 2; …; (3, 4] holds both 4s.
        #expect(histogram.bucketCounts == [2, 1, 1, 2])
        let constant = TensorBoardHistogram(values: [0.5, 0.5])
        #expect(constant.bucketLimits == [0.5] && constant.bucketCounts == [2])
    }

    @Test func fileIsNamedByTimeAndHostAndStartsWithTheVersion() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let writer = try TensorBoardWriter(directory: folder.file("runs/a"), host: "box", clock: { 1_700_000_000.5 })
        let second = try TensorBoardWriter(directory: folder.file("runs/a"), host: "box", clock: { 1_700_000_000.5 })
        #expect(writer.path == folder.file("runs/a/events.out.tfevents.1700000000.box"))
        #expect(second.path == writer.path + ".2")
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: writer.path)))
        let version = TensorBoardEvent(wallTime: 1_700_000_000.5, step: 0, content: .fileVersion("brain.Event:2"))
        #expect(bytes == TFRecord.framed(version.encoded()))
    }

    @Test func unwritableFolderIsAOneLineError() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try Data().write(to: URL(fileURLWithPath: folder.file("plain")))
        #expect(throws: LogFileError(path: folder.file("plain"), problem: "is a regular file, not a folder")) {
            try TensorBoardWriter(directory: folder.file("plain"))
        }
        let error = #expect(throws: LogFileError.self) {
            try TensorBoardWriter(directory: folder.file("plain/below"))
        }
        #expect(error?.description.hasPrefix("'\(folder.file("plain/below"))' cannot be created as a folder") == true)
    }

    /// What `tensorboard_read.py` prints.
    struct PythonReading: Decodable {
        var files: Int
        var events: Int
        var file_version: String?
        var scalars: [String: [[Double]]]
        var histograms: [String: [[HistogramField]]]

        enum HistogramField: Decodable {
            case number(Double)
            case list([Double])
            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let number = try? container.decode(Double.self) {
                    self = .number(number)
                } else {
                    self = .list(try container.decode([Double].self))
                }
            }
            var number: Double? { if case .number(let x) = self { x } else { nil } }
            var list: [Double]? { if case .list(let x) = self { x } else { nil } }
        }
    }

    static let readerScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Python/tensorboard_read.py").path

    static let tensorboardAvailable: Bool =
        PythonInterop.run(["-c", "import tensorboard.backend.event_processing.event_accumulator"]).status == 0

    @Test(
        "tensorboard's own reader reads every event back: file version, scalars, weight histograms",
        .enabled(
            if: TensorBoardTests.tensorboardAvailable,
            "python3 with tensorboard is not installed (pip install tensorboard)"))
    func tensorboardReadsTheFileBack() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        var generator = RandomGenerator(seed: 3)
        let model = Sequential<Float> {
            Linear(3, 4, generator: &generator)
            ReLU()
            Linear(4, 2, generator: &generator)
        }
        let writer = try TensorBoardWriter(directory: folder.path)
        for step in 1...5 { try writer.addScalar("loss/train", 1 / Double(step), step: step) }
        try writer.addScalar("learning_rate", 0.001, step: 5)
        try writer.addHistograms(of: model, step: 5)

        let output = try PythonInterop.output([Self.readerScript, folder.path])
        let reading = try JSONDecoder().decode(PythonReading.self, from: Data(output.utf8))
        #expect(reading.files == 1)
        #expect(reading.events == 1 + 6 + 4, "a record failed its CRC check or was not read: \(output)")
        #expect(reading.file_version == "brain.Event:2")
        #expect(reading.scalars["loss/train"]?.map { $0[0] } == [1, 2, 3, 4, 5])
        #expect(reading.scalars["loss/train"]?.map { Float($0[1]) } == (1...5).map { Float(1 / Double($0)) })
        #expect(reading.scalars["learning_rate"]?.first.map { Float($0[1]) } == Float(0.001))
        #expect(
            Set(reading.histograms.keys) == ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"])
        let weights = model.namedParameters[0].parameter.value.scalars.map { Double($0) }
        let expected = TensorBoardHistogram(values: weights)
        let read = try #require(reading.histograms["layers.0.weight"]?.first)
        #expect(read[0].number == 5)
        #expect(read[1].number == expected.min && read[2].number == expected.max && read[3].number == 12)
        #expect(read[6].list == expected.bucketLimits && read[7].list == expected.bucketCounts)
    }
}
