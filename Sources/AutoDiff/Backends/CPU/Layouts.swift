/// How the CPU kernels walk shapes: broadcast strides, one kernel call per row, and merged
/// dimensions so most broadcasts are one 2-D walk.
enum Layouts {
    /// Walks every row (last dimension) of `shape`, giving the offsets of each operand whose
    /// strides (in elements) are listed.
    @inline(__always)
    static func forEachRow(
        _ shape: [Int], _ strides: [[Int]], _ body: (_ offsets: UnsafeMutablePointer<Int>, _ row: Int) -> Void
    ) {
        let rank = shape.count
        let rows = rank == 0 ? 1 : ShapeMath.count(shape) / Swift.max(shape[rank - 1], 1)
        guard ShapeMath.count(shape) > 0 else { return }
        let operands = strides.count
        withUnsafeTemporaryAllocation(of: Int.self, capacity: operands + Swift.max(rank, 1)) { scratch in
            let offsets = scratch.baseAddress!
            let index = offsets + operands
            for k in 0..<operands { offsets[k] = 0 }
            for d in 0..<Swift.max(rank, 1) { index[d] = 0 }
            for row in 0..<rows {
                body(offsets, row)
                // Odometer over every dimension but the last.
                var d = rank - 2
                while d >= 0 {
                    index[d] += 1
                    for k in 0..<operands { offsets[k] += strides[k][d] }
                    if index[d] < shape[d] { break }
                    for k in 0..<operands { offsets[k] -= strides[k][d] * shape[d] }
                    index[d] = 0
                    d -= 1
                }
            }
        }
    }

    /// Merges adjacent dimensions that every operand walks contiguously (or broadcasts
    /// together), so most broadcasts become one 2-D walk: `[N, C] + [C]` is rows × columns,
    /// `[B, N, C] + [C]` merges to `[B·N, C]`.
    static func coalesced(_ shape: [Int], _ strides: [[Int]]) -> (shape: [Int], strides: [[Int]]) {
        var outShape: [Int] = []
        var outStrides: [[Int]] = Array(repeating: [], count: strides.count)
        for d in 0..<shape.count where shape[d] != 1 {
            if let last = outShape.last,
                strides.indices.allSatisfy({ k in outStrides[k].last! == strides[k][d] * shape[d] })
            {
                outShape[outShape.count - 1] = last * shape[d]
                for k in strides.indices { outStrides[k][outStrides[k].count - 1] = strides[k][d] }
            } else {
                outShape.append(shape[d])
                for k in strides.indices { outStrides[k].append(strides[k][d]) }
            }
        }
        return (outShape, outStrides)
    }

}
