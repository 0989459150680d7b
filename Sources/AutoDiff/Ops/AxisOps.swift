// Shape ops over ranges of axes, as PyTorch names them: transpose of any two axes, flatten and
// unflatten. Each is a permute or a reshape, so its rule is theirs (Ops/ShapeOps.swift).

extension Tensor {
    /// Swaps axes `axis0` and `axis1` (negative axes count from the end), like
    /// `torch.transpose`: a permute, copied into row-major order. ∂/∂x = g with the same axes
    /// swapped back.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func transposed(_ axis0: Int, _ axis1: Int) -> Tensor {
        let a0 = ShapeMath.axis(axis0, rank: rank, op: "transpose")
        let a1 = ShapeMath.axis(axis1, rank: rank, op: "transpose")
        var axes = Array(0..<rank)
        axes.swapAt(a0, a1)
        return permuted(axes)
    }

    /// Merges the axes `start...end` (negative axes count from the end) into one, like
    /// `torch.flatten(x, start_dim, end_dim)`: `[N, C, H, W]` from 1 through -1 is
    /// `[N, C·H·W]`. A reshape (no copy). A scalar becomes `[1]`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func flattened(from start: Int, through end: Int = -1) -> Tensor {
        if rank == 0 { return reshaped([1]) }
        let s = ShapeMath.axis(start, rank: rank, op: "flatten")
        let e = ShapeMath.axis(end, rank: rank, op: "flatten")
        guard s <= e else {
            tensorFailure("flatten: start axis \(start) comes after end axis \(end) for shape \(shape)")
        }
        return reshaped(Array(shape[..<s]) + [shape[s...e].reduce(1, *)] + Array(shape[(e + 1)...]))
    }

    /// Splits axis `axis` (negative counts from the end) into `sizes`, like `torch.unflatten`:
    /// `[N, 12]` with axis 1 into `[3, -1]` is `[N, 3, 4]`. One size may be -1 (inferred); the
    /// sizes must multiply to the axis's length. A reshape (no copy).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func unflattened(axis: Int, into sizes: [Int]) -> Tensor {
        let a = ShapeMath.axis(axis, rank: rank, op: "unflatten")
        let length = shape[a]
        var resolved = sizes
        let holes = sizes.indices.filter { sizes[$0] == -1 }
        let known = sizes.filter { $0 != -1 }.reduce(1, *)
        let valid =
            !sizes.isEmpty && holes.count <= 1 && sizes.allSatisfy({ $0 >= 0 || $0 == -1 })
            && (holes.isEmpty ? known == length : (known > 0 && length % known == 0))
        guard valid else {
            tensorFailure(
                "unflatten: sizes \(sizes) do not split axis \(axis) of length \(length) (shape \(shape)); they must multiply to \(length), with at most one -1"
            )
        }
        if let hole = holes.first { resolved[hole] = length / known }
        return reshaped(Array(shape[..<a]) + resolved + Array(shape[(a + 1)...]))
    }
}
