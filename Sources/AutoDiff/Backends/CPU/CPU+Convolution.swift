import CKernels
import COpenBLAS

// Convolution and pooling on the CPU. A convolution is a matrix product per block of images and
// group: the images' patches are copied into the columns of a matrix (im2col: one row per weight
// tap `(c, p, q)`, one column per output pixel of each image in the block), and then
//
//   forward            Y[Cout/g, B·P] = W[Cout/g, K] · col[K, B·P]        (then + bias, per image)
//   input gradient     dcol[K, B·P]   = Wᵀ · dY, added back into the images (col2im)
//   weight gradient    dW[Cout/g, K] += dY[Cout/g, B·P] · colᵀ            (summed over the blocks)
//
// with K = Cin/g·kH·kW, P = oH·oW and B images per block, as many as keep the patch matrix
// within about 1 MiB (a few images of the MNIST CNN: one per product would leave OpenBLAS
// packing its operands for a product too small to pay for it). Images are split across
// ComputeThreads, each part with its own blocks; each product runs on its part's thread (the thin
// C loops when a side is small, else single-threaded OpenBLAS). The weight gradient's parts sum
// into their own blocks, added in part order, so results depend only on the thread count.

extension CPUBackend {
    public func convolution2d(
        _ input: Buffer, weight: Buffer, bias: Buffer?, into out: Buffer, _ geometry: Convolution2DGeometry
    ) {
        captureKernel {
            .convolution2d(
                input: $0.read(input), weight: $0.read(weight), bias: bias.map($0.read), out: $0.write(out), geometry)
        }
        switch input.dtype {
        case .float32: f32.convolution2d(input, weight, bias, out, geometry)
        case .float64: f64.convolution2d(input, weight, bias, out, geometry)
        case .uint8, .int64: unsupported(input.dtype, "convolution2d")
        }
    }

    public func convolution2dInputGradient(
        _ gradOut: Buffer, weight: Buffer, into gradInput: Buffer, _ geometry: Convolution2DGeometry
    ) {
        captureKernel {
            .convolution2dInputGradient(
                gradOut: $0.read(gradOut), weight: $0.read(weight), gradInput: $0.write(gradInput), geometry)
        }
        switch gradOut.dtype {
        case .float32: f32.convolution2dInputGradient(gradOut, weight, gradInput, geometry)
        case .float64: f64.convolution2dInputGradient(gradOut, weight, gradInput, geometry)
        case .uint8, .int64: unsupported(gradOut.dtype, "convolution2dInputGradient")
        }
    }

    public func convolution2dWeightGradient(
        _ input: Buffer, gradOut: Buffer, into gradWeight: Buffer, _ geometry: Convolution2DGeometry
    ) {
        captureKernel {
            .convolution2dWeightGradient(
                input: $0.read(input), gradOut: $0.read(gradOut), gradWeight: $0.write(gradWeight), geometry)
        }
        switch input.dtype {
        case .float32: f32.convolution2dWeightGradient(input, gradOut, gradWeight, geometry)
        case .float64: f64.convolution2dWeightGradient(input, gradOut, gradWeight, geometry)
        case .uint8, .int64: unsupported(input.dtype, "convolution2dWeightGradient")
        }
    }

    public func maxPool2d(_ input: Buffer, into out: Buffer, indices: Buffer, _ geometry: Convolution2DGeometry) {
        captureKernel { .maxPool2d(input: $0.read(input), out: $0.write(out), indices: $0.write(indices), geometry) }
        precondition(indices.dtype == .int64, "cpu: maxPool2d's indices must be an I64 buffer, not \(indices.dtype)")
        switch input.dtype {
        case .float32: f32.maxPool2d(input, out, indices.host(Int.self), geometry)
        case .float64: f64.maxPool2d(input, out, indices.host(Int.self), geometry)
        case .uint8, .int64: unsupported(input.dtype, "maxPool2d")
        }
    }
}

/// The patch matrix of one image and group, and the ranges of output pixels whose taps land
/// inside the image.
struct Patches {
    let g: Convolution2DGeometry

    /// Rows of the patch matrix (K = Cin/groups·kH·kW).
    var rows: Int { g.groupInputChannels * g.kernelHeight * g.kernelWidth }
    /// Columns of the patch matrix (P = oH·oW).
    var columns: Int { g.outputHeight * g.outputWidth }
    /// The output positions `o` in `0..<outputs` whose tap `o·stride − padding + offset` lies in
    /// `0..<extent`.
    @inline(__always)
    static func inside(outputs: Int, stride: Int, padding: Int, offset: Int, extent: Int) -> Range<Int> {
        // o·s ≥ padding − offset and o·s ≤ extent − 1 + padding − offset.
        let low = padding - offset
        let first = low <= 0 ? 0 : (low + stride - 1) / stride
        let high = extent - 1 + padding - offset
        let last = high < 0 ? -1 : high / stride
        let end = Swift.min(outputs, last + 1)
        return first < end ? first..<end : 0..<0
    }

    /// Calls `body(row, i, rowStart, jRange, firstColumn)` for every patch row `(c, p, q)` and
    /// output row `i` whose taps land inside the image: output pixels `(i, j)` for `j` in `jRange`
    /// read image element `rowStart + j·sW` of channel `c` (`rowStart` is the flat index of
    /// `(c, ih, iw at j = 0)` within the group's channels). Pixels not visited read zero.
    @inline(__always)
    func forEachRun(_ body: (_ row: Int, _ i: Int, _ rowStart: Int, _ js: Range<Int>) -> Void) {
        let (h, w) = (g.inputHeight, g.inputWidth)
        for c in 0..<g.groupInputChannels {
            for p in 0..<g.kernelHeight {
                let rowOffset = p * g.dilationHeight
                let rows = Patches.inside(
                    outputs: g.outputHeight, stride: g.strideHeight, padding: g.paddingTop, offset: rowOffset,
                    extent: h)
                for q in 0..<g.kernelWidth {
                    let row = (c * g.kernelHeight + p) * g.kernelWidth + q
                    let columnOffset = q * g.dilationWidth
                    let js = Patches.inside(
                        outputs: g.outputWidth, stride: g.strideWidth, padding: g.paddingLeft, offset: columnOffset,
                        extent: w)
                    if js.isEmpty { continue }
                    for i in rows {
                        let ih = i * g.strideHeight - g.paddingTop + rowOffset
                        body(row, i, (c * h + ih) * w + columnOffset - g.paddingLeft, js)
                    }
                }
            }
        }
    }

    /// `col` (`rows × columns`, rows `ld` apart) ← the patches of `image` (the group's
    /// `Cin/groups` channels).
    @inline(__always)
    func gather<S: TensorScalar>(_ image: UnsafePointer<S>, into col: UnsafeMutablePointer<S>, ld: Int) {
        for row in 0..<rows { (col + row * ld).initialize(repeating: 0, count: columns) }
        let (ow, sw) = (g.outputWidth, g.strideWidth)
        forEachRun { row, i, start, js in
            let out = col + row * ld + i * ow
            if sw == 1 {
                (out + js.lowerBound).update(from: image + start + js.lowerBound, count: js.count)
            } else {
                for j in js { out[j] = image[start + j * sw] }
            }
        }
    }

    /// `image` (the group's channels) += the patch matrix `col` (rows `ld` apart) added back
    /// where it was read.
    @inline(__always)
    func scatterAdd<S: TensorScalar>(_ col: UnsafePointer<S>, ld: Int, into image: UnsafeMutablePointer<S>) {
        let (ow, sw) = (g.outputWidth, g.strideWidth)
        forEachRun { row, i, start, js in
            let source = col + row * ld + i * ow
            if sw == 1 {
                let target = image + start
                for j in js { target[j] += source[j] }
            } else {
                for j in js { image[start + j * sw] += source[j] }
            }
        }
    }
}

extension CPUKernels {
    /// `C ← op(A)·op(B) + β·C` on the calling thread: the thin loops when a side is small, else
    /// the packed AVX-512 kernel in one part when there is one and C is wide enough
    /// (``Products/minPackedSide``), else OpenBLAS (single-threaded, as ``ComputeThreads``
    /// configures it).
    @inline(__always)
    func localGemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<S>, lda: Int, b: UnsafePointer<S>,
        ldb: Int, beta: S, c: UnsafeMutablePointer<S>, ldc: Int
    ) {
        if Swift.min(m, n, k) <= Products.maxThinSide {
            thinGemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, 1, a, lda, b, ldb, beta, nil, c, ldc)
        } else if let packed = packedGemm, Swift.min(m, n) >= Products.minPackedSide {
            packed(transA ? 1 : 0, transB ? 1 : 0, m, n, k, 1, a, lda, b, ldb, beta, c, ldc, 1)
        } else {
            blasGemm(
                CblasRowMajor, ComputeThreads.transpose(transA), ComputeThreads.transpose(transB), blasint(m),
                blasint(n), blasint(k), 1, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
        }
    }

    /// How many parts to split a convolution over `g.batch` images into: one when it has fewer
    /// multiply-adds than ``ComputeThreads/parallelThreshold``.
    static func convolutionParts(_ g: Convolution2DGeometry) -> Int {
        let work =
            g.batch * g.outputChannels * g.groupInputChannels * g.kernelHeight * g.kernelWidth
            * g.outputHeight * g.outputWidth
        return work < ComputeThreads.parallelThreshold ? 1 : Swift.min(ComputeThreads.count, g.batch)
    }

    /// Images per block: as many as keep a block's patch matrix within 2¹⁸ elements (1 MiB of
    /// floats), at most 16, at least 1.
    static func imagesPerBlock(_ patches: Patches) -> Int {
        Swift.max(1, Swift.min(16, (1 << 18) / Swift.max(patches.rows * patches.columns, 1)))
    }

    /// Runs `body(blockImages, col, matrix)` for each block of images of each part (parts from
    /// ``convolutionParts(_:)``, run on their threads), with the part's own patch matrix `col`
    /// (`K × B·P`) and `Cout/g × B·P` matrix `matrix`.
    @inline(__always)
    static func forEachImageBlock(
        _ g: Convolution2DGeometry, _ patches: Patches, parts: Int,
        _ body: (_ part: Int, _ images: Range<Int>, _ col: UnsafeMutablePointer<S>, _ matrix: UnsafeMutablePointer<S>)
            -> Void
    ) {
        let block = imagesPerBlock(patches)
        let blockColumns = block * patches.columns
        ComputeThreads.forEachPart(parts) { part in
            let images = ComputeThreads.range(of: part, parts, in: g.batch, alignment: 1)
            let scratch = (patches.rows + g.groupOutputChannels) * blockColumns
            withUnsafeTemporaryAllocation(of: S.self, capacity: Swift.max(scratch, 1)) { scratch in
                let col = scratch.baseAddress!
                let matrix = col + patches.rows * blockColumns
                for start in stride(from: images.lowerBound, to: images.upperBound, by: block) {
                    body(part, start..<Swift.min(start + block, images.upperBound), col, matrix)
                }
            }
        }
    }

    /// Whether `g` is one input channel with stride 1 and no dilation, the direct C kernels'
    /// case (``convolutionOneChannel``): K = kH·kW taps is too few for im2col and a product.
    static func isOneChannel(_ g: Convolution2DGeometry) -> Bool {
        g.inputChannels == 1 && g.groups == 1 && g.strideHeight == 1 && g.strideWidth == 1 && g.dilationHeight == 1
            && g.dilationWidth == 1
    }

    /// Whether `g` is Winograd F(2×2, 3×3)'s case (``winogradConvolution2d``): Float, a 3×3
    /// kernel, stride 1, no dilation, one group, padding of at most 1 on every side, and at least
    /// 8 input and output channels (fewer leave the 16 products too thin to beat im2col).
    static func isWinograd(_ g: Convolution2DGeometry) -> Bool {
        let paddingBottom = g.outputHeight + 2 - g.inputHeight - g.paddingTop
        let paddingRight = g.outputWidth + 2 - g.inputWidth - g.paddingLeft
        return S.self == Float.self && g.kernelHeight == 3 && g.kernelWidth == 3 && g.strideHeight == 1
            && g.strideWidth == 1 && g.dilationHeight == 1 && g.dilationWidth == 1 && g.groups == 1
            && (0...1).contains(g.paddingTop) && (0...1).contains(g.paddingLeft) && (0...1).contains(paddingBottom)
            && (0...1).contains(paddingRight) && g.inputChannels >= 8 && g.outputChannels >= 8
            && g.outputHeight > 0 && g.outputWidth > 0
    }

    func convolution2d(_ input: Buffer, _ weight: Buffer, _ bias: Buffer?, _ out: Buffer, _ g: Convolution2DGeometry) {
        if Self.isWinograd(g), let float = self as? CPUKernels<Float> {
            float.winogradConvolution2d(input, weight, bias, out, g)
            return
        }
        let (x, w, y) = (p(input), p(weight), p(out))
        let b = bias.map { p($0) }
        if Self.isOneChannel(g) {
            let parts = Self.convolutionParts(g)
            ComputeThreads.forEachPart(parts) { part in
                let images = ComputeThreads.range(of: part, parts, in: g.batch, alignment: 1)
                convolutionOneChannel(
                    x + images.lowerBound * g.inputHeight * g.inputWidth, images.count, g.inputHeight, g.inputWidth,
                    w, b.map { UnsafePointer($0) }, g.outputChannels, g.kernelHeight, g.kernelWidth, g.paddingTop,
                    g.paddingLeft, g.outputHeight, g.outputWidth,
                    y + images.lowerBound * g.outputChannels * g.outputHeight * g.outputWidth)
            }
            return
        }
        let patches = Patches(g: g)
        let (k, columns, coutG) = (patches.rows, patches.columns, g.groupOutputChannels)
        let imageSize = g.inputChannels * g.inputHeight * g.inputWidth
        let groupSize = g.groupInputChannels * g.inputHeight * g.inputWidth
        Self.forEachImageBlock(g, patches, parts: Self.convolutionParts(g)) { _, images, col, product in
            let ld = images.count * columns
            for group in 0..<g.groups {
                for (i, n) in images.enumerated() {
                    patches.gather(x + n * imageSize + group * groupSize, into: col + i * columns, ld: ld)
                }
                localGemm(
                    transA: false, transB: false, m: coutG, n: ld, k: k, a: w + group * coutG * k, lda: k, b: col,
                    ldb: ld, beta: 0, c: product, ldc: ld)
                for (i, n) in images.enumerated() {
                    for c in 0..<coutG {
                        let channel = group * coutG + c
                        let target = y + (n * g.outputChannels + channel) * columns
                        let source = product + c * ld + i * columns
                        if let b {
                            let shift = b[channel]
                            for e in 0..<columns { target[e] = source[e] + shift }
                        } else {
                            target.update(from: source, count: columns)
                        }
                    }
                }
            }
        }
    }

    func convolution2dInputGradient(
        _ gradOut: Buffer, _ weight: Buffer, _ gradInput: Buffer, _ g: Convolution2DGeometry
    ) {
        if Self.isWinograd(g), let float = self as? CPUKernels<Float> {
            float.winogradConvolution2dInputGradient(gradOut, weight, gradInput, g)
            return
        }
        let (gy, w, gx) = (p(gradOut), p(weight), p(gradInput))
        let patches = Patches(g: g)
        let (k, columns, coutG) = (patches.rows, patches.columns, g.groupOutputChannels)
        let imageSize = g.inputChannels * g.inputHeight * g.inputWidth
        let groupSize = g.groupInputChannels * g.inputHeight * g.inputWidth
        Self.forEachImageBlock(g, patches, parts: Self.convolutionParts(g)) { _, images, col, upstream in
            let ld = images.count * columns
            (gx + images.lowerBound * imageSize).initialize(repeating: 0, count: images.count * imageSize)
            for group in 0..<g.groups {
                for (i, n) in images.enumerated() {
                    for c in 0..<coutG {
                        (upstream + c * ld + i * columns).update(
                            from: gy + (n * g.outputChannels + group * coutG + c) * columns, count: columns)
                    }
                }
                // dcol = W_gᵀ · dY_g, then each image's columns added back where they were read.
                localGemm(
                    transA: true, transB: false, m: k, n: ld, k: coutG, a: w + group * coutG * k, lda: k, b: upstream,
                    ldb: ld, beta: 0, c: col, ldc: ld)
                for (i, n) in images.enumerated() {
                    patches.scatterAdd(col + i * columns, ld: ld, into: gx + n * imageSize + group * groupSize)
                }
            }
        }
    }

    func convolution2dWeightGradient(
        _ input: Buffer, _ gradOut: Buffer, _ gradWeight: Buffer, _ g: Convolution2DGeometry
    ) {
        let (x, gy, gw) = (p(input), p(gradOut), p(gradWeight))
        let patches = Patches(g: g)
        let (k, columns, coutG) = (patches.rows, patches.columns, g.groupOutputChannels)
        let imageSize = g.inputChannels * g.inputHeight * g.inputWidth
        let groupSize = g.groupInputChannels * g.inputHeight * g.inputWidth
        let weightCount = g.outputChannels * k
        let parts = Self.convolutionParts(g)
        // Part 0 sums into gradWeight, every other part into its own block, added in part order.
        withUnsafeTemporaryAllocation(of: S.self, capacity: Swift.max((parts - 1) * weightCount, 1)) { blocks in
            let blocks = blocks.baseAddress!
            for part in 0..<parts {
                (part == 0 ? gw : blocks + (part - 1) * weightCount).initialize(repeating: 0, count: weightCount)
            }
            if Self.isOneChannel(g) {
                ComputeThreads.forEachPart(parts) { part in
                    let images = ComputeThreads.range(of: part, parts, in: g.batch, alignment: 1)
                    convolutionOneChannelWeightGradient(
                        x + images.lowerBound * g.inputHeight * g.inputWidth, images.count, g.inputHeight,
                        g.inputWidth, gy + images.lowerBound * g.outputChannels * g.outputHeight * g.outputWidth,
                        g.outputChannels, g.kernelHeight, g.kernelWidth, g.paddingTop, g.paddingLeft, g.outputHeight,
                        g.outputWidth, part == 0 ? gw : blocks + (part - 1) * weightCount)
                }
            } else {
                Self.forEachImageBlock(g, patches, parts: parts) { part, images, col, upstream in
                    let sum = part == 0 ? gw : blocks + (part - 1) * weightCount
                    let ld = images.count * columns
                    for group in 0..<g.groups {
                        for (i, n) in images.enumerated() {
                            patches.gather(x + n * imageSize + group * groupSize, into: col + i * columns, ld: ld)
                            for c in 0..<coutG {
                                (upstream + c * ld + i * columns).update(
                                    from: gy + (n * g.outputChannels + group * coutG + c) * columns, count: columns)
                            }
                        }
                        localGemm(
                            transA: false, transB: true, m: coutG, n: k, k: ld, a: upstream, lda: ld, b: col, ldb: ld,
                            beta: 1, c: sum + group * coutG * k, ldc: k)
                    }
                }
            }
            for part in 1..<Swift.max(parts, 1) {
                let block = blocks + (part - 1) * weightCount
                for e in 0..<weightCount { gw[e] += block[e] }
            }
        }
    }

    func maxPool2d(_ input: Buffer, _ out: Buffer, _ chosen: UnsafeMutablePointer<Int>, _ g: Convolution2DGeometry) {
        let (x, y) = (p(input), p(out))
        let (h, w, oh, ow) = (g.inputHeight, g.inputWidth, g.outputHeight, g.outputWidth)
        // Each window's taps inside the image, worked out once per output row and column.
        let rowTaps = (0..<oh).map {
            Patches.inside(
                outputs: g.kernelHeight, stride: g.dilationHeight, padding: g.paddingTop - $0 * g.strideHeight,
                offset: 0, extent: h)
        }
        let columnTaps = (0..<ow).map {
            Patches.inside(
                outputs: g.kernelWidth, stride: g.dilationWidth, padding: g.paddingLeft - $0 * g.strideWidth,
                offset: 0, extent: w)
        }
        let isPairs =
            g.kernelHeight == 2 && g.kernelWidth == 2 && g.strideHeight == 2 && g.strideWidth == 2
            && g.paddingTop == 0 && g.paddingLeft == 0 && g.dilationHeight == 1 && g.dilationWidth == 1
            && 2 * oh <= h && 2 * ow <= w
        ComputeThreads.forEachRange(
            of: g.planes, elements: g.planes * oh * ow * g.kernelHeight * g.kernelWidth, alignment: 1
        ) { planes in
            if isPairs {
                let first = planes.lowerBound
                maxPool2x2(
                    x + first * h * w, planes.count, h, w, oh, ow, y + first * oh * ow, chosen + first * oh * ow)
                return
            }
            for plane in planes {
                let image = x + plane * h * w
                let (values, where_) = (y + plane * oh * ow, chosen + plane * oh * ow)
                for i in 0..<oh {
                    let rows = rowTaps[i]
                    let rowStart = i * g.strideHeight - g.paddingTop
                    for j in 0..<ow {
                        let columns = columnTaps[j]
                        let columnStart = j * g.strideWidth - g.paddingLeft
                        var best = -S.infinity
                        var index =
                            (rowStart + rows.lowerBound * g.dilationHeight) * w + columnStart
                            + columns.lowerBound * g.dilationWidth
                        for a in rows {
                            let row = (rowStart + a * g.dilationHeight) * w + columnStart
                            for b in columns {
                                let e = row + b * g.dilationWidth
                                let value = image[e]
                                if value > best || value.isNaN {
                                    best = value
                                    index = e
                                }
                            }
                        }
                        values[i * ow + j] = best
                        where_[i * ow + j] = index
                    }
                }
            }
        }
    }
}

// Winograd F(2×2, 3×3) for the 3×3, stride-1 convolutions between many channels (``isWinograd``):
// per block of images, the input tiles are transformed (ad_winograd_input_f32), multiplied by the
// transformed kernels in 16 products M[pos] (Cout × tiles) = U[pos] (Cout × Cin) · V[pos]
// (Cin × tiles), one per position of the 4×4 tile, and transformed back with the bias added
// (ad_winograd_output_f32): 16 multiply-adds per (out, in, 2×2 outputs) in place of im2col's 36.
// The input gradient is the same kind of convolution: dY padded by 2 − padding, with each kernel
// flipped and its channels swapped. Images are split across ComputeThreads as im2col's are.
extension CPUKernels where S == Float {
    /// Elements past a block's tiles in each row of its transformed matrices: the C transforms
    /// work on vectors of 8 tiles, and the last one of a row reads or writes up to 7 past it.
    static let winogradSlack = 8

    /// Tiles per block of images (about 1024: the CNN's 16 → 32 layer was 5% faster at its
    /// batch than with 256, and no faster with 2048), so that the 16 products are wide enough for
    /// OpenBLAS while a block's transformed input and products (16·(Cin + Cout) floats a tile)
    /// stay within a few MiB.
    static let winogradTilesPerBlock = 1024

    /// Y ← conv(X, W) + b by Winograd F(2×2, 3×3) (`g` must satisfy ``isWinograd``).
    func winogradConvolution2d(
        _ input: Buffer, _ weight: Buffer, _ bias: Buffer?, _ out: Buffer, _ g: Convolution2DGeometry
    ) {
        winograd(
            p(input), channels: g.inputChannels, height: g.inputHeight, width: g.inputWidth,
            paddingTop: g.paddingTop, paddingLeft: g.paddingLeft, weight: p(weight), transposed: false,
            bias: bias.map { UnsafePointer(p($0)) }, outputChannels: g.outputChannels, outputHeight: g.outputHeight,
            outputWidth: g.outputWidth, into: p(out), g)
    }

    /// dX ← the input gradient of conv(X, W) by Winograd F(2×2, 3×3): dY convolved, with padding
    /// 2 − padding, by the kernels flipped with their channels swapped.
    func winogradConvolution2dInputGradient(
        _ gradOut: Buffer, _ weight: Buffer, _ gradInput: Buffer, _ g: Convolution2DGeometry
    ) {
        winograd(
            p(gradOut), channels: g.outputChannels, height: g.outputHeight, width: g.outputWidth,
            paddingTop: 2 - g.paddingTop, paddingLeft: 2 - g.paddingLeft, weight: p(weight), transposed: true,
            bias: nil, outputChannels: g.inputChannels, outputHeight: g.inputHeight, outputWidth: g.inputWidth,
            into: p(gradInput), g)
    }

    /// A 3×3, stride-1 convolution of `g.batch` images [channels, height, width] into
    /// [outputChannels, outputHeight, outputWidth]: the kernels of `weight` (as stored, or flipped
    /// with their channels swapped when `transposed`) transformed once, then each part's blocks of
    /// images transformed, multiplied and transformed back.
    private func winograd(
        _ x: UnsafeMutablePointer<Float>, channels: Int, height: Int, width: Int, paddingTop: Int,
        paddingLeft: Int, weight: UnsafeMutablePointer<Float>, transposed: Bool, bias: UnsafePointer<Float>?,
        outputChannels: Int, outputHeight: Int, outputWidth: Int, into y: UnsafeMutablePointer<Float>,
        _ g: Convolution2DGeometry
    ) {
        let (tilesHigh, tilesWide) = ((outputHeight + 1) / 2, (outputWidth + 1) / 2)
        let tilesPerImage = tilesHigh * tilesWide
        let imagesPerBlock = Swift.max(1, Self.winogradTilesPerBlock / tilesPerImage)
        let blockTiles = imagesPerBlock * tilesPerImage
        let parts = Self.convolutionParts(g)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 16 * outputChannels * channels) { kernels in
            let u = kernels.baseAddress!
            ad_winograd_kernel_f32(
                weight, g.outputChannels, g.inputChannels, transposed ? 1 : 0, u)
            ComputeThreads.forEachPart(parts) { part in
                let images = ComputeThreads.range(of: part, parts, in: g.batch, alignment: 1)
                withUnsafeTemporaryAllocation(
                    of: Float.self, capacity: 16 * (channels + outputChannels) * (blockTiles + Self.winogradSlack)
                ) {
                    scratch in
                    let v = scratch.baseAddress!
                    let m = v + 16 * channels * (blockTiles + Self.winogradSlack)
                    for start in stride(from: images.lowerBound, to: images.upperBound, by: imagesPerBlock) {
                        let count = Swift.min(imagesPerBlock, images.upperBound - start)
                        // Rows of the transformed matrices, with the slack the C loops' vectors spill into.
                        let (tiles, ld) = (count * tilesPerImage, count * tilesPerImage + Self.winogradSlack)
                        ad_winograd_input_f32(
                            x + start * channels * height * width, count, channels, height, width, paddingTop,
                            paddingLeft, tilesHigh, tilesWide, v, ld)
                        for position in 0..<16 {
                            localGemm(
                                transA: false, transB: false, m: outputChannels, n: tiles, k: channels,
                                a: u + position * outputChannels * channels, lda: channels,
                                b: v + position * channels * ld, ldb: ld, beta: 0,
                                c: m + position * outputChannels * ld, ldc: ld)
                        }
                        ad_winograd_output_f32(
                            m, ld, count, outputChannels, tilesHigh, tilesWide, bias, outputHeight, outputWidth,
                            y + start * outputChannels * outputHeight * outputWidth)
                    }
                }
            }
        }
    }
}
