import CZlib

/// gzip compression and decompression through the system zlib.
public enum Gzip {
    /// Whether `bytes` start with the gzip magic `1f 8b`.
    public static func isCompressed(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B
    }

    /// The decompressed contents of a gzip file: every member, in order, as `gzip -d` writes them.
    /// Throws `problem` descriptions for a corrupt or truncated stream (the caller names the file).
    public static func decompress(_ bytes: [UInt8]) throws(GzipError) -> [UInt8] {
        try decompress(bytes, limit: { _ in .max }).output
    }

    /// The decompressed contents of a gzip file, read only as far as `limit` allows: after each
    /// chunk, `limit(outputSoFar)` says how many bytes the whole output may hold (a reader that
    /// knows the size from a header it has already decompressed returns that size). Once the output
    /// exceeds it, decompression stops with `isComplete == false` and at most one chunk (64 KiB)
    /// beyond the limit: a small file that inflates to gigabytes never allocates them.
    ///
    /// Members after the first are read too (concatenated gzip files are valid gzip); anything else
    /// after the last member is an error.
    public static func decompress(
        _ bytes: [UInt8], limit: ([UInt8]) -> Int
    ) throws(GzipError) -> (output: [UInt8], isComplete: Bool) {
        var stream = z_stream()
        // 15 window bits + 32: detect a gzip or zlib header.
        guard inflateInit2_(&stream, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw GzipError(problem: "zlib could not start inflating")
        }
        defer { inflateEnd(&stream) }
        var output = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var input = bytes
        var status: Int32 = Z_OK
        var stoppedAtLimit = false
        var trailingBytes = 0
        input.withUnsafeMutableBufferPointer { inBuf in
            stream.next_in = inBuf.baseAddress
            stream.avail_in = UInt32(inBuf.count)
            while true {
                chunk.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = UInt32(outBuf.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    output.append(contentsOf: outBuf[0..<(outBuf.count - Int(stream.avail_out))])
                }
                if output.count > limit(output) {
                    stoppedAtLimit = true
                    return
                }
                if status == Z_STREAM_END && stream.avail_in > 0 {
                    let next = inBuf.count - Int(stream.avail_in)
                    guard isCompressed(Array(inBuf[next..<min(next + 2, inBuf.count)])) else {
                        trailingBytes = Int(stream.avail_in)
                        return
                    }
                    // Another member: start it afresh, keeping the output.
                    status = inflateReset(&stream)
                    continue
                }
                guard status == Z_OK && (stream.avail_in > 0 || stream.avail_out == 0) else { return }
            }
        }
        if stoppedAtLimit { return (output, false) }
        switch status {
        case Z_STREAM_END where trailingBytes > 0:
            throw GzipError(problem: "\(trailingBytes) bytes after the end of the gzip stream are not gzip data")
        case Z_STREAM_END:
            return (output, true)
        case Z_OK, Z_BUF_ERROR:
            throw GzipError(problem: "the gzip stream is truncated (ended after \(output.count) decompressed bytes)")
        default:
            let message = stream.msg.map { String(cString: $0) } ?? "error \(status)"
            throw GzipError(problem: "the gzip stream is corrupt (\(message))")
        }
    }

    /// `bytes` compressed as a gzip stream.
    public static func compress(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8] {
        var stream = z_stream()
        // 15 window bits + 16: write a gzip header and trailer.
        guard
            deflateInit2_(
                &stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, zlibVersion(),
                Int32(MemoryLayout<z_stream>.size)) == Z_OK
        else {
            fatalError("Gzip.compress: zlib could not start deflating")
        }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(bytes.count))) + 32)
        var input = bytes
        let written: Int = input.withUnsafeMutableBufferPointer { inBuf in
            output.withUnsafeMutableBufferPointer { outBuf in
                stream.next_in = inBuf.baseAddress
                stream.avail_in = UInt32(inBuf.count)
                stream.next_out = outBuf.baseAddress
                stream.avail_out = UInt32(outBuf.count)
                guard deflate(&stream, Z_FINISH) == Z_STREAM_END else {
                    fatalError("Gzip.compress: deflate did not finish")
                }
                return outBuf.count - Int(stream.avail_out)
            }
        }
        return Array(output[0..<written])
    }
}

/// A problem in a gzip stream (wrapped in ``NNError`` with the file's name by readers).
public struct GzipError: Error, CustomStringConvertible, Sendable {
    /// What is wrong with the stream, in one line (truncated, corrupt, or followed by other data).
    public let problem: String
    public var description: String { problem }
}
