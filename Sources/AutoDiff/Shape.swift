/// Shape arithmetic shared by every op: element counts, strides, NumPy broadcasting and axis
/// normalisation, each failing with a message that names the op and the shapes.
enum ShapeMath {
    /// The number of elements of a tensor of this shape (1 for a scalar `[]`).
    @inline(__always)
    static func count(_ shape: [Int]) -> Int {
        var n = 1
        for d in shape { n &*= d }
        return n
    }

    /// Row-major strides, in elements.
    static func strides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var s = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i] = s
            s *= shape[i]
        }
        return strides
    }

    /// Strides of a tensor of shape `shape` read as a tensor of the (broadcast) shape `out`: 0 on
    /// every broadcast dimension.
    static func broadcastStrides(_ shape: [Int], to out: [Int]) -> [Int] {
        let own = strides(shape)
        let offset = out.count - shape.count
        return (0..<out.count).map { i in
            i < offset || shape[i - offset] == 1 ? 0 : own[i - offset]
        }
    }

    /// The NumPy broadcast of two shapes: align at the right, each pair of dimensions must be
    /// equal or one of them 1.
    static func broadcast(_ a: [Int], _ b: [Int], op: String) -> [Int] {
        if a == b { return a }
        let rank = max(a.count, b.count)
        var out = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            if da == db || db == 1 {
                out[i] = da
            } else if da == 1 {
                out[i] = db
            } else {
                tensorFailure(
                    "\(op): shapes \(a) and \(b) cannot broadcast: dimension \(i) is \(da) vs \(db)")
            }
        }
        return out
    }

    /// An axis in `0..<rank`, accepting negative axes counted from the end.
    static func axis(_ axis: Int, rank: Int, op: String) -> Int {
        let a = axis < 0 ? axis + rank : axis
        guard a >= 0 && a < max(rank, 1) else {
            tensorFailure("\(op): axis \(axis) is out of range for a tensor of rank \(rank)")
        }
        return a
    }

    /// Sorted, distinct, normalised axes; `nil` means every axis.
    static func axes(_ axes: [Int]?, rank: Int, op: String) -> [Int] {
        guard let axes else { return Array(0..<rank) }
        let normalised = axes.map { axis($0, rank: rank, op: op) }
        // Already ascending (one axis, or axes in order: what sums back to a shape pass) needs no
        // set: building one cost about a thousand instructions per reduction.
        if zip(normalised, normalised.dropFirst()).allSatisfy({ $0 < $1 }) { return normalised }
        let unique = Array(Set(normalised)).sorted()
        guard unique.count == normalised.count else {
            tensorFailure("\(op): axes \(axes) name the same axis twice")
        }
        return unique
    }

    /// `newShape` for the `count` elements of `shape`, its one `-1` (if any) inferred; stops
    /// with reshape's one-line error when the counts differ.
    static func reshaped(_ shape: [Int], count: Int, to newShape: [Int]) -> [Int] {
        var target = newShape
        if let hole = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().reduce(1) { $1.offset == hole ? $0 : $0 * $1.element }
            guard known > 0, count % known == 0, newShape.filter({ $0 == -1 }).count == 1 else {
                tensorFailure("reshape: cannot reshape \(shape) (\(count) elements) to \(newShape)")
            }
            target[hole] = count / known
        }
        guard target.allSatisfy({ $0 >= 0 }), ShapeMath.count(target) == count else {
            tensorFailure("reshape: cannot reshape \(shape) (\(count) elements) to \(newShape)")
        }
        return target
    }

    /// The shape after reducing `axes` of `shape`: kept as 1 with `keepDims`, else removed.
    static func reduced(_ shape: [Int], axes: [Int], keepDims: Bool) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(shape.count)
        for (i, d) in shape.enumerated() {
            if axes.contains(i) {
                if keepDims { out.append(1) }
            } else {
                out.append(d)
            }
        }
        return out
    }
}

/// Stops the program with a one-line message naming the op and the problem.
///
/// Tensor operations are expressions, so misuse (shapes that do not fit, an axis out of range)
/// is a programming error, like an array index out of range: it stops with a clear message
/// rather than throwing from every arithmetic operator.
public func tensorFailure(_ message: String, file: StaticString = #file, line: UInt = #line) -> Never {
    fatalError(message, file: file, line: line)
}
