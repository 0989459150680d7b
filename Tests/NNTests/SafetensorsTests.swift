import AutoDiff
import Foundation
import Testing

@testable import NN

/// A safetensors file from a header string and data bytes.
func safetensorsBytes(header: String, data: [UInt8] = []) -> [UInt8] {
    let h = Array(header.utf8)
    var out: [UInt8] = []
    withUnsafeBytes(of: UInt64(h.count).littleEndian) { out += $0 }
    return out + h + data
}

@Suite("Safetensors")
struct SafetensorsTests {
    static func model(seed: UInt64) -> Sequential<Float> {
        var g = RandomGenerator(seed: seed)
        return Sequential<Float>(mlp: [3, 4, 2], activation: .tanh, generator: &g)
    }

    @Test("Model parameters round-trip by name; loading writes in place; the write is atomic")
    func roundTrip() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let a = Self.model(seed: 1)
        let b = Self.model(seed: 2)
        let path = dir.file("model.safetensors")
        try a.saveParameters(to: path, metadata: ["epochs": "3"])
        #expect(try dir.contents() == ["model.safetensors"])  // no temporary file left
        let leaf = b.parameters[0].value
        let meta = try b.loadParameters(from: path)
        #expect(meta == ["epochs": "3"])
        #expect(a.parameters.map(\.value.scalars) == b.parameters.map(\.value.scalars))
        // In place: a copy of the leaf taken before loading is still the model's leaf.
        (b(Tensor<Float>.ones([1, 3])).sum()).backward()
        #expect(leaf.grad != nil)
        // Overwriting an existing file replaces it whole.
        try b.saveParameters(to: path)
        #expect(try Safetensors.read(contentsOf: path).metadata.isEmpty)
    }

    @Test("The header is the documented layout: u64 length, JSON padded to 8, contiguous data")
    func layout() throws {
        let bytes = try Safetensors.encode(
            [("b", Tensor<Float>([1, 2])), ("a", Tensor<Float>(rows: [[3]]))], metadata: ["k": "v\"q"])
        var n = 0
        for k in 0..<8 { n |= Int(bytes[k]) << (8 * k) }
        #expect(n % 8 == 0)
        let header = String(decoding: bytes[8..<(8 + n)], as: UTF8.self).trimmingCharacters(in: .whitespaces)
        #expect(
            header
                == #"{"__metadata__":{"k":"v\"q"},"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        )
        #expect(bytes.count == 8 + n + 12)
        let back = try Safetensors.decode(bytes, file: "mem", as: Double.self)
        #expect(back.tensors["b"]!.scalars == [1, 2])
        #expect(back.names == ["a", "b"])
        #expect(back.metadata == ["k": "v\"q"])
    }

    @Test("Double models save F64 and load into Float by conversion")
    func precisions() throws {
        let bytes = try Safetensors.encode([("x", Tensor<Double>([0.1, -2]))])
        #expect(String(decoding: bytes, as: UTF8.self).contains(#""dtype":"F64""#))
        #expect(try Safetensors.decode(bytes, file: "m", as: Float.self).tensors["x"]!.scalars == [Float(0.1), -2])
    }

    @Test("Loading names every missing, extra and mis-shaped tensor, and changes nothing")
    func mismatch() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("wrong.safetensors")
        try Safetensors.write(
            [
                ("layers.0.weight", Tensor<Float>.zeros([3, 5])), ("layers.0.bias", Tensor<Float>.zeros([4])),
                ("layers.2.weight", Tensor<Float>.zeros([4, 2])), ("layers.9.bias", Tensor<Float>.zeros([1])),
            ], to: path)
        let model = Self.model(seed: 3)
        let before = model.parameters.map(\.value.scalars)
        let error = #expect(throws: NNError.self) { try model.loadParameters(from: path) }
        #expect(
            "\(error!)"
                == "safetensors file \(path) does not match the model: missing layers.2.bias; unexpected layers.9.bias; layers.0.weight has shape [3, 5], the model expects [3, 4]"
        )
        #expect(model.parameters.map(\.value.scalars) == before)
    }

    static let corrupt: [(String, [UInt8], String)] = [
        ("empty", [], "truncated: 0 bytes"),
        ("huge header length", [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], "exceeds"),
        ("header past end", safetensorsBytes(header: "{}").dropLast(), "runs past the end"),
        ("not JSON", safetensorsBytes(header: "{\"a\": [1,"), "not valid JSON"),
        ("not an object", safetensorsBytes(header: "[1, 2]"), "not an object"),
        (
            "no dtype", safetensorsBytes(header: #"{"a":{"shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
            "has no dtype"
        ),
        (
            "negative shape",
            safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
            "no valid shape"
        ),
        (
            "fractional offset",
            safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4.5]}}"#, data: [0, 0, 0, 0]),
            "no valid data_offsets"
        ),
        (
            "offsets past data",
            safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: [0, 0, 0, 0]),
            "run past the 4 bytes of data"
        ),
        (
            "size mismatch",
            safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
            "needs 8 bytes but data_offsets span 4"
        ),
        (
            "unknown dtype",
            safetensorsBytes(header: #"{"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}}"#, data: [0]),
            "has dtype Q7, which this reader does not convert"
        ),
        (
            "overlapping tensors",
            safetensorsBytes(
                header:
                    #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                data: [UInt8](repeating: 0, count: 8)), "overlap the previous tensor's bytes"
        ),
        (
            "hole between tensors",
            safetensorsBytes(
                header:
                    #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#,
                data: [UInt8](repeating: 0, count: 12)), "bytes 4..<8 of the data belong to no tensor"
        ),
        (
            "trailing bytes",
            safetensorsBytes(
                header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0, 9]),
            "1 bytes after the last tensor's data"
        ),
        (
            "bad metadata", safetensorsBytes(header: #"{"__metadata__":{"k":1}}"#),
            "__metadata__ value for \"k\" is not a string"
        ),
        (
            "overflowing shape",
            safetensorsBytes(
                header: #"{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,0]}}"#),
            "too large"
        ),
    ]

    @Test("A corrupt file is an error naming the file, never a crash", arguments: corrupt.map(\.0))
    func corruptFiles(name: String) throws {
        let (_, bytes, problem) = Self.corrupt.first { $0.0 == name }!
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("bad.safetensors")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: NNError.self, "\(name)") { try Safetensors.read(contentsOf: path) }
        let message = error.map { "\($0)" } ?? ""
        #expect(message.hasPrefix("safetensors file \(path): "), "\(name): \(message)")
        #expect(message.contains(problem), "\(name): \(message)")
    }

    @Test("A failed write leaves no file behind and names the path")
    func failedWrite() {
        let error = #expect(throws: NNError.self) {
            try Safetensors.write([("a", Tensor<Float>([1]))], to: "/nonexistent-dir/x.safetensors")
        }
        #expect("\(error!)".hasPrefix("safetensors file /nonexistent-dir/x.safetensors: "))
    }
}
