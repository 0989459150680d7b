import AutoDiff
import Foundation

/// The safetensors format (Hugging Face), read and written without dependencies:
///
///     [8 bytes: N, little-endian u64] [N bytes: JSON header] [data]
///
/// The header maps each tensor name to `{"dtype": "F32", "shape": [..], "data_offsets": [b, e]}`
/// (byte offsets into the data section, little-endian row-major elements) and may hold a
/// `"__metadata__"` object of string to string. Files written here pad the header with spaces to
/// a multiple of 8 bytes, store tensors contiguously in name order, and load with
/// `safetensors.numpy.load_file` in Python.
///
/// Reading checks every part of the header (size, JSON, dtype, shape, offsets inside the data,
/// byte counts) and throws ``NNError/safetensors(file:problem:)`` instead of trapping. `F32` and
/// `F64` tensors load into either precision (converted); other dtypes are reported as
/// unsupported.
public enum Safetensors {
    /// The largest header accepted (as the reference implementation: 100 MB).
    public static let maximumHeaderSize = 100_000_000

    /// The contents of a safetensors file: tensors by name, their order in the file, metadata.
    public struct Contents<Scalar: TensorScalar> {
        public var tensors: [String: Tensor<Scalar>]
        /// The names in the order of their data offsets.
        public var names: [String]
        public var metadata: [String: String]
    }

    // MARK: Writing

    /// The bytes of a safetensors file holding `tensors` (names must be distinct and must not be
    /// `__metadata__`).
    public static func encode<Scalar: TensorScalar>(
        _ tensors: [(name: String, tensor: Tensor<Scalar>)], metadata: [String: String] = [:]
    ) throws -> [UInt8] {
        let sorted = tensors.sorted { $0.name < $1.name }
        var seen = Set<String>()
        for (name, _) in sorted {
            guard name != "__metadata__", seen.insert(name).inserted else {
                throw NNError.safetensors(
                    file: "(in memory)", problem: "tensor name \"\(name)\" is reserved or repeated")
            }
        }
        let size = MemoryLayout<Scalar>.size
        var entries: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            entries.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for (name, t) in sorted {
            let bytes = t.count * size
            entries.append(
                "\(jsonString(name)):{\"dtype\":\"\(Scalar.dtypeName)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}"
            )
            offset += bytes
        }
        var header = Array("{\(entries.joined(separator: ","))}".utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var out = [UInt8]()
        out.reserveCapacity(8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        for (_, t) in sorted {
            // Little-endian hosts only (x86-64, arm64): the element bytes are written as they are.
            t.withUnsafeBufferPointer { out.append(contentsOf: UnsafeRawBufferPointer($0)) }
        }
        return out
    }

    /// Writes `tensors` to `path` atomically: the bytes go to a temporary file in the same
    /// directory, which is then renamed over `path`, so a reader never sees a partial file.
    public static func write<Scalar: TensorScalar>(
        _ tensors: [(name: String, tensor: Tensor<Scalar>)], metadata: [String: String] = [:], to path: String
    ) throws {
        let bytes: [UInt8]
        do { bytes = try encode(tensors, metadata: metadata) } catch NNError.safetensors(_, let problem) {
            throw NNError.safetensors(file: path, problem: problem)
        }
        try writeAtomically(bytes, to: path)
    }

    // MARK: Reading

    /// Reads the file at `path`, converting tensors to `Scalar`.
    public static func read<Scalar: TensorScalar>(contentsOf path: String, as _: Scalar.Type = Float.self) throws
        -> Contents<Scalar>
    {
        let bytes: [UInt8]
        do {
            bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw NNError.safetensors(file: path, problem: "cannot be read (\(error.localizedDescription))")
        }
        return try decode(bytes, file: path, as: Scalar.self)
    }

    /// Parses safetensors bytes; `file` names the source in errors.
    public static func decode<Scalar: TensorScalar>(_ bytes: [UInt8], file: String, as _: Scalar.Type = Float.self)
        throws -> Contents<Scalar>
    {
        func fail(_ problem: String) -> NNError { .safetensors(file: file, problem: problem) }
        guard bytes.count >= 8 else {
            throw fail("truncated: \(bytes.count) bytes, shorter than the 8-byte header length")
        }
        var n: UInt64 = 0
        for k in 0..<8 { n |= UInt64(bytes[k]) << (8 * UInt64(k)) }
        guard n <= UInt64(maximumHeaderSize) else {
            throw fail("corrupt header: header length \(n) exceeds \(maximumHeaderSize) bytes")
        }
        let headerLength = Int(n)
        guard 8 + headerLength <= bytes.count else {
            throw fail(
                "corrupt header: header length \(headerLength) runs past the end of the file (\(bytes.count) bytes)")
        }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + headerLength)]))
        } catch {
            throw fail("corrupt header: not valid JSON")
        }
        guard let header = json as? [String: Any] else { throw fail("corrupt header: the JSON is not an object") }
        let dataStart = 8 + headerLength
        let dataSize = bytes.count - dataStart
        var metadata: [String: String] = [:]
        var entries: [(name: String, dtype: String, shape: [Int], begin: Int, end: Int)] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else {
                    throw fail("corrupt header: __metadata__ is not an object")
                }
                for (k, v) in m {
                    guard let s = v as? String else {
                        throw fail("corrupt header: __metadata__ value for \"\(k)\" is not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            guard let info = value as? [String: Any] else {
                throw fail("corrupt header: entry \"\(name)\" is not an object")
            }
            guard let dtype = info["dtype"] as? String else {
                throw fail("corrupt header: tensor \"\(name)\" has no dtype")
            }
            guard let shape = integers(info["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
                throw fail("corrupt header: tensor \"\(name)\" has no valid shape")
            }
            guard let offsets = integers(info["data_offsets"]), offsets.count == 2, offsets[0] >= 0,
                offsets[0] <= offsets[1]
            else {
                throw fail("corrupt header: tensor \"\(name)\" has no valid data_offsets")
            }
            guard offsets[1] <= dataSize else {
                throw fail(
                    "tensor \"\(name)\" data_offsets \(offsets) run past the \(dataSize) bytes of data (truncated file?)"
                )
            }
            entries.append((name, dtype, shape, offsets[0], offsets[1]))
        }
        entries.sort { ($0.begin, $0.name) < ($1.begin, $1.name) }
        var tensors: [String: Tensor<Scalar>] = [:]
        for e in entries {
            var count = 1
            for d in e.shape {
                let (p, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow else {
                    throw fail("corrupt header: tensor \"\(e.name)\" shape \(e.shape) is too large")
                }
                count = p
            }
            let elementSize: Int
            switch e.dtype {
            case "F32": elementSize = 4
            case "F64": elementSize = 8
            default: throw fail("tensor \"\(e.name)\" has unsupported dtype \(e.dtype) (F32 and F64 are supported)")
            }
            guard e.end - e.begin == count * elementSize else {
                throw fail(
                    "tensor \"\(e.name)\" of shape \(e.shape) and dtype \(e.dtype) needs \(count * elementSize) bytes but data_offsets span \(e.end - e.begin)"
                )
            }
            var tensor = Tensor<Scalar>.zeros(e.shape)
            bytes.withUnsafeBytes { raw in
                tensor.withUnsafeMutableBufferPointer {
                    decodeLittleEndian(raw.baseAddress! + dataStart + e.begin, wide: elementSize == 8, into: $0)
                }
            }
            tensors[e.name] = tensor
        }
        return Contents(tensors: tensors, names: entries.map(\.name), metadata: metadata)
    }

    // MARK: Helpers

    /// Non-negative integers from a JSON array (rejects fractions, booleans, strings).
    static func integers(_ value: Any?) -> [Int]? {
        guard let array = value as? [Any] else { return nil }
        var result: [Int] = []
        for element in array {
            // JSON `true` also arrives as an NSNumber (of a boolean class): reject it by that class.
            guard let number = element as? NSNumber, !String(describing: type(of: element)).contains("Boolean") else {
                return nil
            }
            let d = number.doubleValue
            guard d >= 0, d == d.rounded(), d < 9.0e15 else { return nil }
            result.append(number.intValue)
        }
        return result
    }

    /// A JSON string literal for `s`.
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// Converts little-endian F32 or F64 elements (possibly unaligned) to `S`.
@_specialize(where S == Float)
@_specialize(where S == Double)
func decodeLittleEndian<S: TensorScalar>(_ base: UnsafeRawPointer, wide: Bool, into out: UnsafeMutableBufferPointer<S>)
{
    if wide {
        for i in out.indices {
            out[i] = S(
                Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
        }
    } else {
        for i in out.indices {
            out[i] = S(
                Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))))
        }
    }
}

/// Writes `bytes` to `path` through ``AtomicWrite``, reporting a failure as a safetensors error.
func writeAtomically(_ bytes: [UInt8], to path: String) throws {
    do {
        try AtomicWrite.write(bytes, to: path)
    } catch let failure as AtomicWrite.Failure {
        throw NNError.safetensors(file: path, problem: "cannot be written (\(failure.problem))")
    }
}
