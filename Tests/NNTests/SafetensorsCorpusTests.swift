import AutoDiff
import Foundation
import Testing

@testable import NN

/// The reader against the reference one (Python's `safetensors`, whose Rust core validates every
/// file it opens): on a corpus of valid and invalid files each must be accepted by both or
/// refused by both; and the element types beyond F32/F64 convert to the values NumPy reads.
@Suite("Safetensors against the reference reader")
struct SafetensorsCorpusTests {
    static func tensor(_ name: String, _ dtype: String, _ shape: [Int], _ begin: Int, _ end: Int) -> String {
        #""\#(name)":{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":[\#(begin),\#(end)]}"#
    }

    /// Valid files of every converted type, edge cases of the layout, and the corrupt files of
    /// ``SafetensorsTests/corrupt``.
    static var corpus: [(name: String, bytes: [UInt8])] {
        var files: [(String, [UInt8])] = SafetensorsTests.corrupt.map { ($0.0, $0.1) }
        let valid: [(String, String, [UInt8])] = [
            ("empty header", "{}", []),
            ("header padded with spaces", "{}      ", []),
            ("header after a space", " {}", []),
            ("metadata only", #"{"__metadata__":{"format":"pt"}}"#, []),
            ("zero-size tensor", "{\(tensor("a", "F32", [0, 3], 0, 0))}", []),
            (
                "two tensors out of name order", "{\(tensor("b", "F32", [1], 4, 8)),\(tensor("a", "F32", [1], 0, 4))}",
                [UInt8](repeating: 1, count: 8)
            ),
            ("F16", "{\(tensor("a", "F16", [2], 0, 4))}", [0x00, 0x3E, 0x00, 0xC0]),
            ("BF16", "{\(tensor("a", "BF16", [2], 0, 4))}", [0xC0, 0x3F, 0x00, 0xC0]),
            ("I32", "{\(tensor("a", "I32", [2], 0, 8))}", [0xF9, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]),
            ("I64", "{\(tensor("a", "I64", [1], 0, 8))}", [0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF]),
            ("U8 and BOOL", "{\(tensor("a", "U8", [2], 0, 2)),\(tensor("b", "BOOL", [2], 2, 4))}", [255, 7, 1, 0]),
            (
                "F8_E4M3 and F8_E5M2", "{\(tensor("a", "F8_E4M3", [2], 0, 2)),\(tensor("b", "F8_E5M2", [1], 2, 3))}",
                [0x38, 0x7E, 0x3C]
            ),
        ]
        files += valid.map { ($0.0, safetensorsBytes(header: $0.1, data: $0.2)) }
        let invalid: [(String, String, [UInt8])] = [
            (
                "overlap, second tensor inside the first",
                "{\(tensor("a", "F32", [2], 0, 8)),\(tensor("b", "F32", [1], 0, 4))}",
                [UInt8](repeating: 0, count: 8)
            ),
            ("data before the first tensor", "{\(tensor("a", "F32", [1], 4, 8))}", [UInt8](repeating: 0, count: 8)),
            ("unknown dtype", "{\(tensor("a", "F3", [1], 0, 4))}", [0, 0, 0, 0]),
        ]
        files += invalid.map { ($0.0, safetensorsBytes(header: $0.1, data: $0.2)) }
        return files
    }

    @Test(
        "every file of the corpus is accepted by both readers or refused by both",
        .enabled(if: PythonInterop.available, "needs python3 with safetensors and numpy (.ci/run installs them)"))
    func sameVerdictsAsPython() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let corpus = Self.corpus
        var ours: [String] = []
        for (index, file) in corpus.enumerated() {
            let path = dir.file("\(index).safetensors")
            try Data(file.bytes).write(to: URL(fileURLWithPath: path))
            let accepted = (try? Safetensors.read(contentsOf: path, as: Double.self)) != nil
            ours.append(accepted ? "ok" : "refused")
        }
        let script = """
            import sys, safetensors
            for i in range(\(corpus.count)):
                try:
                    safetensors.deserialize(open(sys.argv[1] + "/%d.safetensors" % i, "rb").read())
                    print("ok")
                except Exception:
                    print("refused")
            """
        let reference = try PythonInterop.output(["-c", script, dir.path])
        let theirs = reference.split(separator: "\n").map(String.init)
        #expect(theirs.count == corpus.count, "python printed: \(reference)")
        for (index, file) in corpus.enumerated() where index < theirs.count {
            #expect(ours[index] == theirs[index], "\(file.name): this reader \(ours[index]), Python \(theirs[index])")
        }
        #expect(ours.contains("ok") && ours.contains("refused"))
    }

    @Test("F16, BF16, FP8, integer and boolean tensors convert to the values they hold")
    func conversions() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        func read(_ name: String) throws -> [String: [Double]] {
            let file = Self.corpus.first { $0.name == name }!
            let path = dir.file("file.safetensors")
            try Data(file.bytes).write(to: URL(fileURLWithPath: path))
            return try Safetensors.read(contentsOf: path, as: Double.self).tensors.mapValues(\.scalars)
        }
        #expect(try read("F16")["a"] == [1.5, -2])
        #expect(try read("BF16")["a"] == [1.5, -2])
        #expect(try read("I32")["a"] == [-7, 2_147_483_647])
        #expect(try read("I64")["a"] == [-1_099_511_627_776])
        let bytes = try read("U8 and BOOL")
        #expect(bytes["a"] == [255, 7] && bytes["b"] == [1, 0])
        let fp8 = try read("F8_E4M3 and F8_E5M2")
        #expect(fp8["a"] == [1, 448] && fp8["b"] == [1])
        #expect(ElementFormat.floatFromE4M3(0x7F).isNaN && ElementFormat.floatFromE4M3(0x01) == 0x1p-9)
    }
}
