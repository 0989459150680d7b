/// An 8-bit grayscale image (0 black … 255 white), e.g. one 28 × 28 MNIST digit.
struct GrayscaleImage: Equatable {
    let width: Int
    let height: Int
    /// Row-major pixels from the top-left.
    let pixels: [UInt8]

    init(width: Int = 28, height: Int = 28, pixels: [UInt8]) {
        precondition(pixels.count == width * height, "GrayscaleImage: \(width)×\(height) needs \(width * height) pixels, got \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// An image from intensities in [0, 1] (values outside are clamped), as the model sees them.
    init(width: Int = 28, height: Int = 28, intensities: [Float]) {
        self.init(width: width, height: height, pixels: intensities.map {
            UInt8(min(max($0.isFinite ? $0 : 0, 0), 1) * 255 + 0.5)
        })
    }

    /// The image as a PNG file: grayscale, 8 bits, with *stored* (uncompressed) deflate blocks,
    /// which need no zlib and stay small at 28 × 28 (under a kilobyte).
    func png() -> [UInt8] {
        var raw: [UInt8] = []
        raw.reserveCapacity((width + 1) * height)
        for row in 0..<height {
            raw.append(0)  // filter type: none
            raw.append(contentsOf: pixels[(row * width)..<((row + 1) * width)])
        }
        var zlib: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let length = min(65_535, raw.count - offset)
            let isLast = offset + length == raw.count
            zlib.append(isLast ? 1 : 0)
            zlib.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8((~length >> 8) & 0xFF)])
            zlib.append(contentsOf: raw[offset..<(offset + length)])
            offset += length
        } while offset < raw.count
        zlib.append(contentsOf: PNGChecksum.bigEndian(PNGChecksum.adler32(raw)))

        var header: [UInt8] = []
        header += PNGChecksum.bigEndian(UInt32(width))
        header += PNGChecksum.bigEndian(UInt32(height))
        header += [8, 0, 0, 0, 0]  // 8 bits, grayscale, deflate, adaptive filtering, no interlace

        var file: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        file += PNGChecksum.chunk("IHDR", header)
        file += PNGChecksum.chunk("IDAT", zlib)
        file += PNGChecksum.chunk("IEND", [])
        return file
    }
}

/// The checksums and chunk framing of the PNG format.
enum PNGChecksum {
    private static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for byte in bytes { c = crcTable[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in bytes {
            a = (a + UInt32(byte)) % 65_521
            b = (b + a) % 65_521
        }
        return b << 16 | a
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    /// Length, type, data and CRC (over type and data).
    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typeAndData = Array(type.utf8) + data
        return bigEndian(UInt32(data.count)) + typeAndData + bigEndian(crc32(typeAndData))
    }
}
