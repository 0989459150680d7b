// Scaled dot-product attention: for each head and query row, the scores against the keys it
// sees, a stable softmax (max subtracted), the weighted sum of the values; and the backward pass
// from the saved row log-sum-exp. Everything in S, one row of probabilities at a time.

extension ReferenceBackend {
    public func attention(
        _ query: Buffer, _ key: Buffer, _ value: Buffer, mask: Buffer?, _ g: AttentionGeometry, into out: Buffer,
        logSumExp: Buffer, probabilities: Buffer?
    ) {
        switch query.dtype {
        case .float32: attention(query, key, value, mask, g, out, logSumExp, probabilities, Float.self)
        case .float64: attention(query, key, value, mask, g, out, logSumExp, probabilities, Double.self)
        case .uint8, .int64: Self.unsupported("attention", query.dtype)
        }
    }

    /// The scores of query row `i` of head `b` against its visible keys: `scale·q·k + mask`.
    private static func scores<S: TensorScalar>(
        _ q: UnsafeMutablePointer<S>, _ k: UnsafeMutablePointer<S>, _ mask: UnsafeMutablePointer<S>?,
        _ g: AttentionGeometry, head b: Int, row i: Int
    ) -> [S] {
        let (tq, tk, d) = (g.queryLength, g.keyLength, g.headDim)
        let maskHead = g.sharedMask ? 0 : b
        return (0..<g.visibleKeys(row: i)).map { j in
            var dot: S = 0
            for e in 0..<d { dot += q[at(g.query, g, b, i, e)] * k[at(g.key, g, b, j, e)] }
            return S(g.scale) * dot + (mask.map { $0[(maskHead * tq + i) * tk + j] } ?? 0)
        }
    }

    /// The index of element `e` of row `i` of head `b` in an operand laid out as `layout`.
    private static func at(_ layout: AttentionOperandLayout, _ g: AttentionGeometry, _ b: Int, _ i: Int, _ e: Int)
        -> Int
    {
        layout.start(head: b, heads: g.heads) + i * layout.rowStride + e
    }

    private func attention<S: TensorScalar>(
        _ query: Buffer, _ key: Buffer, _ value: Buffer, _ mask: Buffer?, _ g: AttentionGeometry, _ out: Buffer,
        _ logSumExp: Buffer, _ probabilities: Buffer?, _: S.Type
    ) {
        let (q, k, v) = (Self.elements(query, S.self), Self.elements(key, S.self), Self.elements(value, S.self))
        let (o, lse) = (Self.elements(out, S.self), Self.elements(logSumExp, S.self))
        let m = mask.map { Self.elements($0, S.self) }
        let kept = probabilities.map { Self.elements($0, S.self) }
        let (tq, tk, dv) = (g.queryLength, g.keyLength, g.valueDim)
        for b in 0..<g.batch {
            for i in 0..<tq {
                let s = Self.scores(q, k, m, g, head: b, row: i)
                let top = s.max() ?? -S.infinity
                let row = b * tq + i
                if let kept { for j in 0..<tk { kept[row * tk + j] = 0 } }
                guard top > -S.infinity else {
                    for e in 0..<dv { o[Self.at(g.output, g, b, i, e)] = 0 }
                    lse[row] = -S.infinity
                    continue
                }
                let weights = s.map { S.exp($0 - top) }
                let total = weights.reduce(0, +)
                for e in 0..<dv {
                    var sum: S = 0
                    for j in weights.indices { sum += weights[j] * v[Self.at(g.value, g, b, j, e)] }
                    o[Self.at(g.output, g, b, i, e)] = sum / total
                }
                lse[row] = top + S.log(total)
                if let kept { for j in weights.indices { kept[row * tk + j] = weights[j] / total } }
            }
        }
    }

    public func attentionBackward(
        _ gradOut: Buffer, _ query: Buffer, _ key: Buffer, _ value: Buffer, mask: Buffer?, output: Buffer,
        logSumExp: Buffer, probabilities: Buffer?, _ g: AttentionGeometry, gradQuery: Buffer, gradKey: Buffer,
        gradValue: Buffer
    ) {
        let saved = (output: output, logSumExp: logSumExp, probabilities: probabilities)
        switch query.dtype {
        case .float32:
            attentionBackward(gradOut, query, key, value, mask, saved, g, gradQuery, gradKey, gradValue, Float.self)
        case .float64:
            attentionBackward(gradOut, query, key, value, mask, saved, g, gradQuery, gradKey, gradValue, Double.self)
        case .uint8, .int64: Self.unsupported("attentionBackward", query.dtype)
        }
    }

    private func attentionBackward<S: TensorScalar>(
        _ gradOut: Buffer, _ query: Buffer, _ key: Buffer, _ value: Buffer, _ mask: Buffer?,
        _ saved: (output: Buffer, logSumExp: Buffer, probabilities: Buffer?), _ g: AttentionGeometry,
        _ gradQuery: Buffer, _ gradKey: Buffer, _ gradValue: Buffer, _: S.Type
    ) {
        let (q, k, v) = (Self.elements(query, S.self), Self.elements(key, S.self), Self.elements(value, S.self))
        let (go, o, lse) = (
            Self.elements(gradOut, S.self), Self.elements(saved.output, S.self),
            Self.elements(saved.logSumExp, S.self)
        )
        let kept = saved.probabilities.map { Self.elements($0, S.self) }
        let (dq, dk, dv) = (
            Self.elements(gradQuery, S.self), Self.elements(gradKey, S.self), Self.elements(gradValue, S.self)
        )
        let m = mask.map { Self.elements($0, S.self) }
        let (tq, tk, d, ev) = (g.queryLength, g.keyLength, g.headDim, g.valueDim)
        let (qAt, kAt, vAt, oAt) = (
            { (b: Int, i: Int, e: Int) in Self.at(g.query, g, b, i, e) },
            { (b: Int, j: Int, e: Int) in Self.at(g.key, g, b, j, e) },
            { (b: Int, j: Int, e: Int) in Self.at(g.value, g, b, j, e) },
            { (b: Int, i: Int, e: Int) in Self.at(g.output, g, b, i, e) }
        )
        for b in 0..<g.batch {
            for j in 0..<tk {
                for e in 0..<d { dk[kAt(b, j, e)] = 0 }
                for e in 0..<ev { dv[vAt(b, j, e)] = 0 }
            }
        }
        for b in 0..<g.batch {
            for i in 0..<tq {
                let row = b * tq + i
                for e in 0..<d { dq[qAt(b, i, e)] = 0 }
                guard lse[row] > -S.infinity else { continue }
                var delta: S = 0
                for e in 0..<ev { delta += go[oAt(b, i, e)] * o[oAt(b, i, e)] }
                let s = Self.scores(q, k, m, g, head: b, row: i)
                for j in s.indices {
                    let p = kept?[row * tk + j] ?? S.exp(s[j] - lse[row])
                    var dp: S = 0
                    for e in 0..<ev {
                        dv[vAt(b, j, e)] += p * go[oAt(b, i, e)]
                        dp += go[oAt(b, i, e)] * v[vAt(b, j, e)]
                    }
                    let ds = p * (dp - delta) * S(g.scale)
                    for e in 0..<d {
                        dq[qAt(b, i, e)] += ds * k[kAt(b, j, e)]
                        dk[kAt(b, j, e)] += ds * q[qAt(b, i, e)]
                    }
                }
            }
        }
    }
}
