import CZlib

/// An 8-bit grayscale image (0 black … 255 white), e.g. one 28 × 28 MNIST digit.
struct GrayscaleImage: Equatable {
    let width: Int
    let height: Int
    /// Row-major pixels from the top-left.
    let pixels: [UInt8]

    init(width: Int = 28, height: Int = 28, pixels: [UInt8]) {
        precondition(
            pixels.count == width * height,
            "GrayscaleImage: \(width)×\(height) needs \(width * height) pixels, got \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// An image from intensities in [0, 1] (values outside are clamped), as the model sees them.
    init(width: Int = 28, height: Int = 28, intensities: [Float]) {
        self.init(
            width: width, height: height,
            pixels: intensities.map {
                UInt8(min(max($0.isFinite ? $0 : 0, 0), 1) * 255 + 0.5)
            })
    }

    /// The image as a PNG file: grayscale, 8 bits, each row with filter type 0 (none), the rows
    /// deflated by zlib (`compress2`) into one IDAT chunk, every chunk's CRC-32 from zlib.
    func png() -> [UInt8] {
        var raw: [UInt8] = []
        raw.reserveCapacity((width + 1) * height)
        for row in 0..<height {
            raw.append(0)  // filter type: none
            raw.append(contentsOf: pixels[(row * width)..<((row + 1) * width)])
        }
        var header: [UInt8] = []
        header += PNGChunk.bigEndian(UInt32(width))
        header += PNGChunk.bigEndian(UInt32(height))
        header += [8, 0, 0, 0, 0]  // 8 bits, grayscale, deflate, adaptive filtering, no interlace

        var file: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        file += PNGChunk.framed("IHDR", header)
        file += PNGChunk.framed("IDAT", PNGChunk.zlibCompressed(raw))
        file += PNGChunk.framed("IEND", [])
        return file
    }
}

/// The chunk framing of the PNG format, with zlib's CRC-32 and deflate.
enum PNGChunk {
    /// zlib's CRC-32 (the PNG and gzip polynomial) of `bytes`.
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBufferPointer { UInt32(CZlib.crc32(0, $0.baseAddress, uInt($0.count))) }
    }

    /// `bytes` as a zlib stream (header, deflate, Adler-32), compressed at zlib's best level.
    static func zlibCompressed(_ bytes: [UInt8]) -> [UInt8] {
        var capacity = compressBound(uLong(bytes.count))
        var output = [UInt8](repeating: 0, count: Int(capacity))
        let status = output.withUnsafeMutableBufferPointer { out in
            bytes.withUnsafeBufferPointer { input in
                compress2(out.baseAddress, &capacity, input.baseAddress, uLong(input.count), Z_BEST_COMPRESSION)
            }
        }
        // compressBound is an upper bound for any input, so only running out of memory can fail.
        precondition(status == Z_OK, "PNG: zlib's compress2 failed with status \(status)")
        return Array(output.prefix(Int(capacity)))
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    /// Length, type, data and CRC (over type and data).
    static func framed(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typeAndData = Array(type.utf8) + data
        return bigEndian(UInt32(data.count)) + typeAndData + bigEndian(crc32(typeAndData))
    }
}
