// Elementwise kernels on the CPU: fills, maps, broadcasting binary ops and selects, strided
// copies and conversions. Large same-shape work is split across ComputeThreads.

extension CPUBackend {
    public func fill(_ out: Buffer, with value: Double) {
        captureKernel { .fill(out: $0.write(out), value: value) }
        switch out.dtype {
        case .float32: f32.fill(out, value)
        case .float64: f64.fill(out, value)
        case .uint8: out.host(UInt8.self).update(repeating: UInt8(value), count: out.count)
        case .int64: out.host(Int.self).update(repeating: Int(value), count: out.count)
        }
    }

    public func unary(_ op: UnaryKernel, _ x: Buffer, into out: Buffer) {
        captureKernel { .unary(op, x: $0.read(x), out: $0.write(out)) }
        switch x.dtype {
        case .float32: f32.unary(op, x, out)
        case .float64: f64.unary(op, x, out)
        case .uint8, .int64: unsupported(x.dtype, "unary")
        }
    }

    public func binary(
        _ op: BinaryKernel, _ a: Buffer, _ aShape: [Int], _ b: Buffer, _ bShape: [Int], into out: Buffer, shape: [Int]
    ) {
        captureKernel {
            .binary(op, a: $0.read(a), aShape: aShape, b: $0.read(b), bShape: bShape, out: $0.write(out), shape: shape)
        }
        switch a.dtype {
        case .float32: f32.binary(op, a, aShape, b, bShape, out, shape)
        case .float64: f64.binary(op, a, aShape, b, bShape, out, shape)
        case .uint8, .int64: unsupported(a.dtype, "binary")
        }
    }

    public func select(
        _ mask: Buffer, _ maskShape: [Int], _ a: Buffer, _ aShape: [Int], _ b: Buffer, _ bShape: [Int],
        into out: Buffer, shape: [Int]
    ) {
        captureKernel {
            .select(
                mask: $0.read(mask), maskShape: maskShape, a: $0.read(a), aShape: aShape, b: $0.read(b), bShape: bShape,
                out: $0.write(out), shape: shape)
        }
        switch a.dtype {
        case .float32: f32.select(mask, maskShape, a, aShape, b, bShape, out, shape)
        case .float64: f64.select(mask, maskShape, a, aShape, b, bShape, out, shape)
        case .uint8, .int64: unsupported(a.dtype, "select")
        }
    }

    public func copy(_ source: StridedView, into out: Buffer, shape: [Int]) {
        captureKernel {
            .gatherStrided(
                source: $0.read(source.buffer), offset: source.offset, strides: source.strides, out: $0.write(out),
                shape: shape)
        }
        switch out.dtype {
        case .float32: f32.copy(source, out, shape)
        case .float64: f64.copy(source, out, shape)
        case .uint8, .int64: unsupported(out.dtype, "copy")
        }
    }

    public func copy(_ source: Buffer, into destination: StridedView, shape: [Int]) {
        captureKernel {
            .scatterStrided(
                source: $0.read(source), destination: $0.readWrite(destination.buffer), offset: destination.offset,
                strides: destination.strides, shape: shape)
        }
        switch source.dtype {
        case .float32: f32.copy(source, destination, shape)
        case .float64: f64.copy(source, destination, shape)
        case .uint8, .int64: unsupported(source.dtype, "copy")
        }
    }

    public func convert(_ x: Buffer, into out: Buffer) -> Int? {
        captureKernel { .convert(x: $0.read(x), out: $0.write(out)) }
        switch (x.dtype, out.dtype) {
        case (.float32, .float64): CPULoops.convert(x.host(Float.self), out.host(Double.self), x.count)
        case (.float64, .float32): CPULoops.convert(x.host(Double.self), out.host(Float.self), x.count)
        case (.float32, .int64): return CPULoops.truncate(x.host(Float.self), out.host(Int.self), x.count)
        case (.float64, .int64): return CPULoops.truncate(x.host(Double.self), out.host(Int.self), x.count)
        case (.int64, .float32): CPULoops.convert(x.host(Int.self), out.host(Float.self), x.count)
        case (.int64, .float64): CPULoops.convert(x.host(Int.self), out.host(Double.self), x.count)
        case _ where x.dtype == out.dtype:
            out.hostAddress.copyMemory(from: x.hostAddress, byteCount: x.count * x.dtype.byteCount)
        default: unsupported(x.dtype, "convert to \(out.dtype)")
        }
        return nil
    }
}

extension CPUKernels {
    func fill(_ out: Buffer, _ value: Double) { CPULoops.fill(p(out), S(value), out.count) }

    func unary(_ op: UnaryKernel, _ x: Buffer, _ out: Buffer) {
        let (px, py) = (p(x), p(out))
        ComputeThreads.forEachRange(of: x.count) { r in
            CPULoops.unary(op, px + r.lowerBound, py + r.lowerBound, r.count)
        }
    }

    /// Same shapes split across threads; a scalar on either side is a stride of 0; anything
    /// else is walked with merged dimensions, one 2-D kernel call per block.
    func binary(
        _ op: BinaryKernel, _ a: Buffer, _ aShape: [Int], _ b: Buffer, _ bShape: [Int], _ out: Buffer, _ shape: [Int]
    ) {
        let (pa, pb, po, count) = (p(a), p(b), p(out), out.count)
        if aShape == bShape {
            ComputeThreads.forEachRange(of: count) { r in
                CPULoops.binary(op, pa + r.lowerBound, 1, pb + r.lowerBound, 1, po + r.lowerBound, r.count)
            }
        } else if b.count == 1 && aShape == shape {
            CPULoops.binary(op, pa, 1, pb, 0, po, count)
        } else if a.count == 1 && bShape == shape {
            CPULoops.binary(op, pa, 0, pb, 1, po, count)
        } else if count > 0 {
            let (dims, strides) = Layouts.coalesced(
                shape, [ShapeMath.broadcastStrides(aShape, to: shape), ShapeMath.broadcastStrides(bShape, to: shape)])
            let (sa, sb) = (strides[0], strides[1])
            switch dims.count {
            case 0:
                CPULoops.binary(op, pa, 0, pb, 0, po, 1)
            case 1:
                CPULoops.binary(op, pa, sa[0], pb, sb[0], po, dims[0])
            case 2:
                CPULoops.binary2D(op, pa, sa[0], sa[1], pb, sb[0], sb[1], po, dims[0], dims[1])
            default:
                // Walk the leading dimensions; each step is one 2-D kernel call.
                let rank = dims.count
                let (rows, cols) = (dims[rank - 2], dims[rank - 1])
                let outer = Array(dims[..<(rank - 2)]) + [1, 1]
                let outerStrides = [Array(sa[..<(rank - 2)]) + [0, 0], Array(sb[..<(rank - 2)]) + [0, 0]]
                Layouts.forEachRow(outer, outerStrides) { offsets, block in
                    CPULoops.binary2D(
                        op, pa + offsets[0], sa[rank - 2], sa[rank - 1], pb + offsets[1], sb[rank - 2], sb[rank - 1],
                        po + block * rows * cols, rows, cols)
                }
            }
        }
    }

    func select(
        _ mask: Buffer, _ maskShape: [Int], _ a: Buffer, _ aShape: [Int], _ b: Buffer, _ bShape: [Int],
        _ out: Buffer, _ shape: [Int]
    ) {
        let sm = ShapeMath.broadcastStrides(maskShape, to: shape)
        let sa = ShapeMath.broadcastStrides(aShape, to: shape)
        let sb = ShapeMath.broadcastStrides(bShape, to: shape)
        let inner = shape.last ?? 1
        let (pm, pa, pb, po) = (p(mask), p(a), p(b), p(out))
        Layouts.forEachRow(shape, [sm, sa, sb]) { o, row in
            CPULoops.select(
                pm + o[0], sm.last ?? 0, pa + o[1], sa.last ?? 0, pb + o[2], sb.last ?? 0, po + row * inner, inner)
        }
    }

    /// A contiguous copy of a strided view, one row at a time; a view of one repeated element
    /// (a reduction's gradient) is a fill.
    func copy(_ source: StridedView, _ out: Buffer, _ shape: [Int]) {
        let (px, po, n) = (p(source.buffer) + source.offset, p(out), out.count)
        let inner = shape.last ?? 1
        let innerStride = source.strides.last ?? 0
        if source.strides.allSatisfy({ $0 == 0 }) {
            if n > 0 { CPULoops.fill(po, px[0], n) }
        } else {
            Layouts.forEachRow(shape, [source.strides]) { offsets, row in
                CPULoops.copy(px + offsets[0], innerStride, po + row * inner, 1, inner)
            }
        }
    }

    func copy(_ source: Buffer, _ destination: StridedView, _ shape: [Int]) {
        let (px, po) = (p(source), p(destination.buffer) + destination.offset)
        let inner = shape.last ?? 1
        let innerStride = destination.strides.last ?? 0
        Layouts.forEachRow(shape, [destination.strides]) { offsets, row in
            CPULoops.copy(px + row * inner, 1, po + offsets[0], innerStride, inner)
        }
    }
}
