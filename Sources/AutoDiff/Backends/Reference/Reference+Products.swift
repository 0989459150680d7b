// Matrix products: batched matmul with optional transposes, and the fused linear layer.

extension ReferenceBackend {
    public func matmul(
        _ a: Buffer, _ b: Buffer, into c: Buffer, batch: Int, m: Int, n: Int, k: Int, transposeA: Bool,
        transposeB: Bool
    ) {
        switch a.dtype {
        case .float32:
            matmul(
                a, b, into: c, batch: batch, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB,
                Float.self)
        case .float64:
            matmul(
                a, b, into: c, batch: batch, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB,
                Double.self)
        case .uint8, .int64: Self.unsupported("matmul", a.dtype)
        }
    }

    /// For each block `t`: `c[i, j] = Σₚ A(i, p)·B(p, j)`, summed from 0 in `p` order, with
    /// `A(i, p) = a[i, p]` (stored `m × k`) or `a[p, i]` (stored `k × m`, transposed) and
    /// `B(p, j) = b[p, j]` (`k × n`) or `b[j, p]` (`n × k`, transposed).
    private func matmul<S: TensorScalar>(
        _ a: Buffer, _ b: Buffer, into c: Buffer, batch: Int, m: Int, n: Int, k: Int, transposeA: Bool,
        transposeB: Bool, _: S.Type
    ) {
        let (a, b, c) = (Self.elements(a, S.self), Self.elements(b, S.self), Self.elements(c, S.self))
        for t in 0..<batch {
            let (a, b, c) = (a + t * m * k, b + t * k * n, c + t * m * n)
            for i in 0..<m {
                for j in 0..<n {
                    var sum: S = 0
                    for p in 0..<k {
                        let aip = transposeA ? a[p * m + i] : a[i * k + p]
                        let bpj = transposeB ? b[j * k + p] : b[p * n + j]
                        sum += aip * bpj
                    }
                    c[i * n + j] = sum
                }
            }
        }
    }

    public func linear(_ x: Buffer, weight: Buffer, bias: Buffer, into out: Buffer, m: Int, n: Int, k: Int) {
        switch x.dtype {
        case .float32: linear(x, weight: weight, bias: bias, into: out, m: m, n: n, k: k, Float.self)
        case .float64: linear(x, weight: weight, bias: bias, into: out, m: m, n: n, k: k, Double.self)
        case .uint8, .int64: Self.unsupported("linear", x.dtype)
        }
    }

    /// `out[i, j] = bias[j] + Σₚ x[i, p]·W[p, j]` (`bias[0]` for a bias of one element): the bias
    /// first, then the products added in `p` order.
    private func linear<S: TensorScalar>(
        _ x: Buffer, weight: Buffer, bias: Buffer, into out: Buffer, m: Int, n: Int, k: Int, _: S.Type
    ) {
        precondition(bias.count == n || bias.count == 1, "reference: a bias of \(bias.count) for \(n) columns")
        let broadcastBias = bias.count == 1
        let (x, w) = (Self.elements(x, S.self), Self.elements(weight, S.self))
        let (bias, out) = (Self.elements(bias, S.self), Self.elements(out, S.self))
        for i in 0..<m {
            for j in 0..<n {
                var sum = bias[broadcastBias ? 0 : j]
                for p in 0..<k { sum += x[i * k + p] * w[p * n + j] }
                out[i * n + j] = sum
            }
        }
    }
}
