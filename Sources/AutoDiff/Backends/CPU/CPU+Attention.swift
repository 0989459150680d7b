import CKernels

// Scaled dot-product attention on the CPU: the C kernels of Sources/CKernels/attention.c, for
// Float and Double, with the heads split across ComputeThreads (a head whole in one part, so the
// results do not depend on the thread count and the key and value gradients need no locks).

extension CPUBackend {
    public func attention(
        _ query: Buffer, _ key: Buffer, _ value: Buffer, mask: Buffer?, _ g: AttentionGeometry, into out: Buffer,
        logSumExp: Buffer, probabilities: Buffer?
    ) {
        captureKernel {
            .attention(
                query: $0.read(query), key: $0.read(key), value: $0.read(value), mask: mask.map($0.read), g,
                out: $0.write(out), logSumExp: $0.write(logSumExp), probabilities: probabilities.map($0.write))
        }
        let (causal, shared) = (Int32(g.causal ? 1 : 0), Int32(g.sharedMask ? 1 : 0))
        let layout = Self.layout(g)
        let (tq, tk, d, dv) = (g.queryLength, g.keyLength, g.headDim, g.valueDim)
        switch query.dtype {
        case .float32:
            let (q, k, v, m) = (
                query.host(Float.self), key.host(Float.self), value.host(Float.self), mask?.host(Float.self)
            )
            let (o, lse, p) = (out.host(Float.self), logSumExp.host(Float.self), probabilities?.host(Float.self))
            Self.forEachHeadRange(g) { r in
                var part = layout  // each part's own copy: the C call takes its address
                ad_attention_f32(
                    q, k, v, m, &part, g.batch, tq, tk, d, dv, g.scale, causal, shared, r.lowerBound, r.upperBound, o,
                    lse, p)
            }
        case .float64:
            let (q, k, v, m) = (
                query.host(Double.self), key.host(Double.self), value.host(Double.self), mask?.host(Double.self)
            )
            let (o, lse, p) = (out.host(Double.self), logSumExp.host(Double.self), probabilities?.host(Double.self))
            Self.forEachHeadRange(g) { r in
                var part = layout  // each part's own copy: the C call takes its address
                ad_attention_f64(
                    q, k, v, m, &part, g.batch, tq, tk, d, dv, g.scale, causal, shared, r.lowerBound, r.upperBound, o,
                    lse, p)
            }
        case .uint8, .int64: unsupported(query.dtype, "attention")
        }
    }

    public func attentionBackward(
        _ gradOut: Buffer, _ query: Buffer, _ key: Buffer, _ value: Buffer, mask: Buffer?, output: Buffer,
        logSumExp: Buffer, probabilities: Buffer?, _ g: AttentionGeometry, gradQuery: Buffer, gradKey: Buffer,
        gradValue: Buffer
    ) {
        captureKernel {
            .attentionBackward(
                gradOut: $0.read(gradOut), query: $0.read(query), key: $0.read(key), value: $0.read(value),
                mask: mask.map($0.read), output: $0.read(output), logSumExp: $0.read(logSumExp),
                probabilities: probabilities.map($0.read), g, gradQuery: $0.write(gradQuery),
                gradKey: $0.write(gradKey), gradValue: $0.write(gradValue))
        }
        let (causal, shared) = (Int32(g.causal ? 1 : 0), Int32(g.sharedMask ? 1 : 0))
        let layout = Self.layout(g)
        let (tq, tk, d, dv) = (g.queryLength, g.keyLength, g.headDim, g.valueDim)
        switch query.dtype {
        case .float32:
            let (go, q, k, v) = (
                gradOut.host(Float.self), query.host(Float.self), key.host(Float.self), value.host(Float.self)
            )
            let (m, o, lse) = (mask?.host(Float.self), output.host(Float.self), logSumExp.host(Float.self))
            let p = probabilities?.host(Float.self)
            let (dq, dk, dvalue) = (gradQuery.host(Float.self), gradKey.host(Float.self), gradValue.host(Float.self))
            Self.forEachHeadRange(g, passes: 2) { r in
                var part = layout  // each part's own copy: the C call takes its address
                ad_attention_backward_f32(
                    go, q, k, v, m, o, lse, p, &part, g.batch, tq, tk, d, dv, g.scale, causal, shared, r.lowerBound,
                    r.upperBound, dq, dk, dvalue)
            }
        case .float64:
            let (go, q, k, v) = (
                gradOut.host(Double.self), query.host(Double.self), key.host(Double.self), value.host(Double.self)
            )
            let (m, o, lse) = (mask?.host(Double.self), output.host(Double.self), logSumExp.host(Double.self))
            let p = probabilities?.host(Double.self)
            let (dq, dk, dvalue) = (
                gradQuery.host(Double.self), gradKey.host(Double.self), gradValue.host(Double.self)
            )
            Self.forEachHeadRange(g, passes: 2) { r in
                var part = layout  // each part's own copy: the C call takes its address
                ad_attention_backward_f64(
                    go, q, k, v, m, o, lse, p, &part, g.batch, tq, tk, d, dv, g.scale, causal, shared, r.lowerBound,
                    r.upperBound, dq, dk, dvalue)
            }
        case .uint8, .int64: unsupported(query.dtype, "attentionBackward")
        }
    }

    /// The C kernels' description of `g`'s operand layouts.
    private static func layout(_ g: AttentionGeometry) -> ad_attention_layout {
        func operand(_ x: AttentionOperandLayout) -> ad_attention_operand {
            ad_attention_operand(
                offset: x.offset, batch_stride: x.batchStride, head_stride: x.headStride, row_stride: x.rowStride)
        }
        return ad_attention_layout(
            heads: g.heads, q: operand(g.query), k: operand(g.key), v: operand(g.value), o: operand(g.output))
    }

    /// `0..<g.batch` cut into one range of whole heads per part, as many parts as the work
    /// (`passes` times the head's `Tq·Tk·(D + Dv)` multiply-adds) is worth.
    private static func forEachHeadRange(_ g: AttentionGeometry, passes: Int = 1, _ body: (Range<Int>) -> Void) {
        let work = passes * g.batch * g.queryLength * g.keyLength * (g.headDim + g.valueDim)
        ComputeThreads.forEachRange(of: g.batch, elements: work, alignment: 1, body)
    }
}
