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
        /// The tensors by name, converted to `Scalar`.
        public var tensors: [String: Tensor<Scalar>]
        /// The names in the order of their data offsets.
        public var names: [String]
        /// The header's `__metadata__` string map (empty when there is none).
        public var metadata: [String: String]
    }

    // MARK: Writing

    /// The bytes of a safetensors file holding `tensors` (names must be distinct and must not be
    /// `__metadata__`), each in the precision of `Scalar` (`F32` or `F64`) except those named in
    /// `integerNames`, which are stored as `I64` (PyTorch's counters, e.g. BatchNorm's
    /// `num_batches_tracked`) and must hold whole numbers.
    public static func encode<Scalar: TensorScalar>(
        _ tensors: [(name: String, tensor: Tensor<Scalar>)], metadata: [String: String] = [:],
        integerNames: Set<String> = []
    ) throws -> [UInt8] {
        let sorted = tensors.sorted { $0.name < $1.name }
        var seen = Set<String>()
        for (name, _) in sorted {
            guard name != "__metadata__", seen.insert(name).inserted else {
                throw NNError.safetensors(
                    file: "(in memory)", problem: "tensor name \"\(name)\" is reserved or repeated")
            }
        }
        var entries: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            entries.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        var integers: [String: [Int64]] = [:]
        for (name, t) in sorted where integerNames.contains(name) {
            let values = t.scalars
            guard values.allSatisfy({ $0 == $0.rounded() && Swift.abs(Double($0)) < 9.0e15 }) else {
                throw NNError.safetensors(
                    file: "(in memory)",
                    problem: "tensor \"\(name)\" is stored as I64 but holds values that are not whole numbers")
            }
            integers[name] = values.map { Int64(Double($0)) }
        }
        for (name, t) in sorted {
            let isInteger = integers[name] != nil
            let bytes = t.count * (isInteger ? 8 : MemoryLayout<Scalar>.size)
            let dtype = isInteger ? "I64" : Scalar.dtypeName
            entries.append(
                "\(jsonString(name)):{\"dtype\":\"\(dtype)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}"
            )
            offset += bytes
        }
        var header = Array("{\(entries.joined(separator: ","))}".utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var out = [UInt8]()
        out.reserveCapacity(8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        for (name, t) in sorted {
            // Little-endian hosts only (x86-64, arm64): the element bytes are written as they are.
            if let values = integers[name] {
                values.withUnsafeBytes { out.append(contentsOf: $0) }
            } else {
                t.withUnsafeBufferPointer { out.append(contentsOf: UnsafeRawBufferPointer($0)) }
            }
        }
        return out
    }

    /// Writes `tensors` to `path` atomically: the bytes go to a temporary file in the same
    /// directory, which is then renamed over `path`, so a reader never sees a partial file.
    public static func write<Scalar: TensorScalar>(
        _ tensors: [(name: String, tensor: Tensor<Scalar>)], metadata: [String: String] = [:],
        integerNames: Set<String> = [], to path: String
    ) throws {
        let bytes: [UInt8]
        do { bytes = try encode(tensors, metadata: metadata, integerNames: integerNames) } catch NNError.safetensors(
            _, let problem)
        {
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
        // As the reference reader (the Rust `safetensors` crate behind Python's): the tensors,
        // in the order of their offsets, cover the data exactly once, with no hole, no overlap
        // and no byte after the last.
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var covered = 0
        for e in entries {
            guard e.begin == covered else {
                throw fail(
                    e.begin > covered
                        ? "bytes \(covered)..<\(e.begin) of the data belong to no tensor (before \"\(e.name)\")"
                        : "tensor \"\(e.name)\" data_offsets [\(e.begin), \(e.end)] overlap the previous tensor's bytes"
                )
            }
            covered = e.end
        }
        guard covered == dataSize else {
            throw fail("\(dataSize - covered) bytes after the last tensor's data (the tensors end at byte \(covered))")
        }
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
            guard let element = ElementFormat(rawValue: e.dtype) else {
                throw fail(
                    "tensor \"\(e.name)\" has dtype \(e.dtype), which this reader does not convert (\(ElementFormat.names))"
                )
            }
            guard e.end - e.begin == count * element.size else {
                throw fail(
                    "tensor \"\(e.name)\" of shape \(e.shape) and dtype \(e.dtype) needs \(count * element.size) bytes but data_offsets span \(e.end - e.begin)"
                )
            }
            tensors[e.name] = Tensor<Scalar>(shape: e.shape) { out in
                bytes.withUnsafeBytes { raw in element.decode(raw.baseAddress! + dataStart + e.begin, into: out) }
            }
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

/// The element types a safetensors file may hold that this reader converts to Float or Double:
/// every fixed-size type of the format except the sub-byte and 8-bit-exponent floats.
enum ElementFormat: String, CaseIterable {
    case f64 = "F64"
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"
    case f8e5m2 = "F8_E5M2"
    case f8e4m3 = "F8_E4M3"
    case i64 = "I64"
    case i32 = "I32"
    case i16 = "I16"
    case i8 = "I8"
    case u64 = "U64"
    case u32 = "U32"
    case u16 = "U16"
    case u8 = "U8"
    case bool = "BOOL"

    static let names = allCases.map(\.rawValue).joined(separator: ", ")

    /// Bytes per element.
    var size: Int {
        switch self {
        case .f64, .i64, .u64: 8
        case .f32, .i32, .u32: 4
        case .f16, .bf16, .i16, .u16: 2
        case .f8e5m2, .f8e4m3, .i8, .u8, .bool: 1
        }
    }

    /// `out.count` little-endian elements at `base`, converted (integers exactly up to 2⁵³ in
    /// Double, 2²⁴ in Float; floats by rounding to nearest).
    func decode<S: TensorScalar>(_ base: UnsafeRawPointer, into out: UnsafeMutableBufferPointer<S>) {
        func load<T: FixedWidthInteger>(_: T.Type, _ i: Int) -> T {
            T(littleEndian: base.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self))
        }
        for i in out.indices {
            switch self {
            case .f64: out[i] = S(Double(bitPattern: load(UInt64.self, i)))
            case .f32: out[i] = S(Float(bitPattern: load(UInt32.self, i)))
            case .f16: out[i] = S(Float(Float16(bitPattern: load(UInt16.self, i))))
            case .bf16: out[i] = S(Float(bitPattern: UInt32(load(UInt16.self, i)) << 16))
            // E5M2 is the top byte of an IEEE half.
            case .f8e5m2: out[i] = S(Float(Float16(bitPattern: UInt16(load(UInt8.self, i)) << 8)))
            case .f8e4m3: out[i] = S(Self.floatFromE4M3(load(UInt8.self, i)))
            case .i64: out[i] = S(load(Int64.self, i))
            case .i32: out[i] = S(load(Int32.self, i))
            case .i16: out[i] = S(load(Int16.self, i))
            case .i8: out[i] = S(load(Int8.self, i))
            case .u64: out[i] = S(load(UInt64.self, i))
            case .u32: out[i] = S(load(UInt32.self, i))
            case .u16: out[i] = S(load(UInt16.self, i))
            case .u8: out[i] = S(load(UInt8.self, i))
            case .bool: out[i] = load(UInt8.self, i) != 0 ? 1 : 0
            }
        }
    }

    /// The OCP FP8 E4M3 ("fn") value of `bits`: 1 sign, 4 exponent (bias 7), 3 mantissa bits, no
    /// infinities, NaN when exponent and mantissa are all ones.
    static func floatFromE4M3(_ bits: UInt8) -> Float {
        let sign: Float = bits & 0x80 != 0 ? -1 : 1
        let exponent = Int((bits >> 3) & 0xF)
        let mantissa = Float(bits & 0x7)
        if exponent == 0xF && bits & 0x7 == 0x7 { return .nan }
        if exponent == 0 { return sign * mantissa / 8 * Float.pow(2, -6) }
        return sign * (1 + mantissa / 8) * Float.pow(2, Float(exponent - 7))
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
