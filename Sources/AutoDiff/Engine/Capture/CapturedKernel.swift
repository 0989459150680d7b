// One backend call of a captured step, with its buffers as slots of the plan's buffer table
// (CapturePlan.swift) instead of objects: a captured program is a flat array of these, compared
// between two captures as values, scanned for buffer lifetimes, and replayed by one switch.
// There is a case per requirement of `Backend` (Backends/Backend.swift) whose results stay in
// buffers; calls that hand values back to the host (argReduce, firstNonFinite, maxPool2d's
// indices, the losses' totals) end a capture instead (CaptureRecorder.swift).

/// A buffer of a captured program: an index into the plan's buffer table.
typealias Slot = Int32

/// A random generator a captured step keeps between replays (`RandomGeneratorCell`).
struct GeneratorReference: Equatable {
    unowned(unsafe) let cell: RandomGeneratorCell
    static func == (a: Self, b: Self) -> Bool { a.cell === b.cell }
}

/// An optimizer rule recomputed on the host before every replay (`UpdateRuleCell`).
struct UpdateRuleReference: Equatable {
    unowned(unsafe) let cell: UpdateRuleCell
    static func == (a: Self, b: Self) -> Bool { a.cell === b.cell }
}

/// The four kernels that read an `int64` index buffer (`Backend.indexSelect` and its kin).
enum IndexKernel: String, Equatable, CustomStringConvertible {
    case select = "indexSelect"
    case add = "indexAdd"
    case gather, scatterAdd

    /// Whether the kernel adds into its output rather than overwriting it.
    var accumulates: Bool { self == .add || self == .scatterAdd }
    var description: String { rawValue }
}

/// A captured backend call. Shapes and constants are stored as they were passed; buffers as
/// slots.
enum CapturedKernel: Equatable {
    case fill(out: Slot, value: Double)
    case unary(UnaryKernel, x: Slot, out: Slot)
    case binary(BinaryKernel, a: Slot, aShape: [Int], b: Slot, bShape: [Int], out: Slot, shape: [Int])
    case select(
        mask: Slot, maskShape: [Int], a: Slot, aShape: [Int], b: Slot, bShape: [Int], out: Slot, shape: [Int])
    case gatherStrided(source: Slot, offset: Int, strides: [Int], out: Slot, shape: [Int])
    case scatterStrided(source: Slot, destination: Slot, offset: Int, strides: [Int], shape: [Int])
    case convert(x: Slot, out: Slot)
    case reduce(ReductionKernel, x: Slot, shape: [Int], axes: [Int], out: Slot)
    case logSumExp(x: Slot, outer: Int, length: Int, inner: Int, out: Slot)
    case matmul(a: Slot, b: Slot, c: Slot, batch: Int, m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool)
    case linear(x: Slot, weight: Slot, bias: Slot, out: Slot, m: Int, n: Int, k: Int)
    /// The plan's fusions (CapturePlan.swift, `fuse`): a linear layer and its relu; a product
    /// and relu's backward on it; a product and dropout's backward on it (and relu's after
    /// that); a weight gradient and its bias gradient.
    case linearReLU(x: Slot, weight: Slot, bias: Slot, out: Slot, m: Int, n: Int, k: Int)
    case matmulReLUBackward(
        a: Slot, b: Slot, keep: Slot, c: Slot, m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool)
    case matmulDropoutBackward(
        a: Slot, b: Slot, dropoutKeep: Slot, scale: Double, reluKeep: Slot?, c: Slot, m: Int, n: Int, k: Int,
        transposeA: Bool, transposeB: Bool)
    case matmulColumnSums(x: Slot, g: Slot, c: Slot, columnSums: Slot, m: Int, n: Int, k: Int)
    case argReduce(ReductionKernel, x: Slot, outer: Int, length: Int, inner: Int, out: Slot)
    case indexed(IndexKernel, x: Slot, outer: Int, length: Int, inner: Int, indices: Slot, out: Slot)
    case convolution2d(input: Slot, weight: Slot, bias: Slot?, out: Slot, Convolution2DGeometry)
    case convolution2dInputGradient(gradOut: Slot, weight: Slot, gradInput: Slot, Convolution2DGeometry)
    case convolution2dWeightGradient(input: Slot, gradOut: Slot, gradWeight: Slot, Convolution2DGeometry)
    case maxPool2d(input: Slot, out: Slot, indices: Slot, Convolution2DGeometry)
    case attention(
        query: Slot, key: Slot, value: Slot, mask: Slot?, AttentionGeometry, out: Slot, logSumExp: Slot,
        probabilities: Slot?)
    case attentionBackward(
        gradOut: Slot, query: Slot, key: Slot, value: Slot, mask: Slot?, output: Slot, logSumExp: Slot,
        probabilities: Slot?, AttentionGeometry, gradQuery: Slot, gradKey: Slot, gradValue: Slot)
    case bernoulli(out: Slot, probability: Double, value: Double, GeneratorReference)
    case dropout(x: Slot, out: Slot, keep: Slot, probability: Double, scale: Double, GeneratorReference)
    case maskedScale(x: Slot, keep: Slot, scale: Double, out: Slot)
    case sigmoidCrossEntropy(z: Slot, targets: Slot, sigmoid: Slot?, loss: Slot)
    case sigmoidCrossEntropyGradient(sigmoid: Slot, targets: Slot, scale: Slot, out: Slot)
    case softmaxCrossEntropy(z: Slot, labels: Slot, rows: Int, classes: Int, probabilities: Slot?, loss: Slot)
    case softmaxCrossEntropyGradient(
        probabilities: Slot, labels: Slot, rows: Int, classes: Int, scale: Slot, out: Slot)
    case normalize(
        x: Slot, outer: Int, groups: Int, inner: Int, epsilon: Double, scale: Slot?, shift: Slot?, out: Slot,
        mean: Slot, rstd: Slot)
    case normalizeBackward(
        g: Slot, x: Slot, mean: Slot, rstd: Slot, scale: Slot?, outer: Int, groups: Int, inner: Int, dx: Slot,
        sumG: Slot, sumGXhat: Slot)
    case layerNorm(
        x: Slot, rows: Int, width: Int, epsilon: Double, weight: Slot?, bias: Slot?, out: Slot, mean: Slot, rstd: Slot)
    case layerNormBackward(
        g: Slot, x: Slot, mean: Slot, rstd: Slot, weight: Slot?, rows: Int, width: Int, dx: Slot,
        weightGradient: Slot?, biasGradient: Slot?)
    case update(UpdateKernel, weights: Slot, gradient: Slot, state: [Slot])
    case dynamicUpdate(UpdateRuleReference, weights: Slot, gradient: Slot, state: [Slot])
    /// Host work between kernels (an optimizer's step counter and rule), by index into the
    /// plan's host steps.
    case host(Int)

    /// How a kernel uses a buffer.
    enum Access { case read, write, readWrite }

    /// Calls `body` with every slot the kernel touches and how. Writes are whole-buffer
    /// overwrites except where marked `readWrite` (accumulations and in-place updates).
    func forEachSlot(_ body: (Slot, Access) -> Void) {
        switch self {
        case .fill(let out, _): body(out, .write)
        case .unary(_, let x, let out), .convert(let x, let out), .logSumExp(let x, _, _, _, let out),
            .reduce(_, let x, _, _, let out):
            body(x, .read)
            body(out, .write)
        case .binary(_, let a, _, let b, _, let out, _):
            body(a, .read)
            body(b, .read)
            body(out, .write)
        case .select(let mask, _, let a, _, let b, _, let out, _):
            body(mask, .read)
            body(a, .read)
            body(b, .read)
            body(out, .write)
        case .gatherStrided(let source, _, _, let out, _):
            body(source, .read)
            body(out, .write)
        case .scatterStrided(let source, let destination, _, _, _):
            body(source, .read)
            body(destination, .readWrite)
        case .matmul(let a, let b, let c, _, _, _, _, _, _):
            body(a, .read)
            body(b, .read)
            body(c, .write)
        case .linear(let x, let weight, let bias, let out, _, _, _),
            .linearReLU(let x, let weight, let bias, let out, _, _, _):
            body(x, .read)
            body(weight, .read)
            body(bias, .read)
            body(out, .write)
        case .matmulReLUBackward(let a, let b, let keep, let c, _, _, _, _, _):
            body(a, .read)
            body(b, .read)
            body(keep, .read)
            body(c, .write)
        case .matmulDropoutBackward(let a, let b, let dropoutKeep, _, let reluKeep, let c, _, _, _, _, _):
            body(a, .read)
            body(b, .read)
            body(dropoutKeep, .read)
            if let reluKeep { body(reluKeep, .read) }
            body(c, .write)
        case .matmulColumnSums(let x, let g, let c, let columnSums, _, _, _):
            body(x, .read)
            body(g, .read)
            body(c, .write)
            body(columnSums, .write)
        case .argReduce(_, let x, _, _, _, let out):
            body(x, .read)
            body(out, .write)
        case .indexed(let kind, let x, _, _, _, let indices, let out):
            body(x, .read)
            body(indices, .read)
            body(out, kind.accumulates ? .readWrite : .write)
        case .maxPool2d(let input, let out, let indices, _):
            body(input, .read)
            body(out, .write)
            body(indices, .write)
        case .attention(let query, let key, let value, let mask, _, let out, let logSumExp, let probabilities):
            for slot in [query, key, value] { body(slot, .read) }
            if let mask { body(mask, .read) }
            body(out, .write)
            body(logSumExp, .write)
            if let probabilities { body(probabilities, .write) }
        case .attentionBackward(
            let gradOut, let query, let key, let value, let mask, let output, let logSumExp, let probabilities, _,
            let gradQuery, let gradKey, let gradValue):
            for slot in [gradOut, query, key, value] { body(slot, .read) }
            if let mask { body(mask, .read) }
            body(output, .read)
            body(logSumExp, .read)
            if let probabilities { body(probabilities, .read) }
            for slot in [gradQuery, gradKey, gradValue] { body(slot, .write) }
        case .convolution2d(let input, let weight, let bias, let out, _):
            body(input, .read)
            body(weight, .read)
            if let bias { body(bias, .read) }
            body(out, .write)
        case .convolution2dInputGradient(let gradOut, let weight, let gradInput, _):
            body(gradOut, .read)
            body(weight, .read)
            body(gradInput, .write)
        case .convolution2dWeightGradient(let input, let gradOut, let gradWeight, _):
            body(input, .read)
            body(gradOut, .read)
            body(gradWeight, .write)
        case .bernoulli(let out, _, _, _): body(out, .write)
        case .dropout(let x, let out, let keep, _, _, _):
            body(x, .read)
            body(out, .write)
            body(keep, .write)
        case .maskedScale(let x, let keep, _, let out):
            body(x, .read)
            body(keep, .read)
            body(out, .write)
        case .sigmoidCrossEntropy(let z, let targets, let sigmoid, let loss):
            body(z, .read)
            body(targets, .read)
            if let sigmoid { body(sigmoid, .write) }
            body(loss, .write)
        case .sigmoidCrossEntropyGradient(let sigmoid, let targets, let scale, let out):
            body(sigmoid, .read)
            body(targets, .read)
            body(scale, .read)
            body(out, .write)
        case .softmaxCrossEntropy(let z, let labels, _, _, let probabilities, let loss):
            body(z, .read)
            body(labels, .read)
            if let probabilities { body(probabilities, .write) }
            body(loss, .write)
        case .softmaxCrossEntropyGradient(let probabilities, let labels, _, _, let scale, let out):
            body(probabilities, .read)
            body(labels, .read)
            body(scale, .read)
            body(out, .write)
        case .normalize(let x, _, _, _, _, let scale, let shift, let out, let mean, let rstd):
            body(x, .read)
            if let scale { body(scale, .read) }
            if let shift { body(shift, .read) }
            body(out, .write)
            body(mean, .write)
            body(rstd, .write)
        case .normalizeBackward(let g, let x, let mean, let rstd, let scale, _, _, _, let dx, let sumG, let sumGXhat):
            body(g, .read)
            body(x, .read)
            body(mean, .read)
            body(rstd, .read)
            if let scale { body(scale, .read) }
            body(dx, .write)
            body(sumG, .write)
            body(sumGXhat, .write)
        case .layerNorm(let x, _, _, _, let weight, let bias, let out, let mean, let rstd):
            body(x, .read)
            if let weight { body(weight, .read) }
            if let bias { body(bias, .read) }
            body(out, .write)
            body(mean, .write)
            body(rstd, .write)
        case .layerNormBackward(
            let g, let x, let mean, let rstd, let weight, _, _, let dx, let weightGradient, let biasGradient):
            body(g, .read)
            body(x, .read)
            body(mean, .read)
            body(rstd, .read)
            if let weight { body(weight, .read) }
            body(dx, .write)
            if let weightGradient { body(weightGradient, .write) }
            if let biasGradient { body(biasGradient, .write) }
        case .update(_, let weights, let gradient, let state), .dynamicUpdate(_, let weights, let gradient, let state):
            body(weights, .readWrite)
            body(gradient, .read)
            for s in state { body(s, .readWrite) }
        case .host: break
        }
    }

    /// The kernel with every slot passed through `map` (the plan's memory assignment).
    func mapSlots(_ map: (Slot) -> Slot) -> CapturedKernel {
        switch self {
        case .fill(let out, let value): .fill(out: map(out), value: value)
        case .unary(let op, let x, let out): .unary(op, x: map(x), out: map(out))
        case .binary(let op, let a, let aShape, let b, let bShape, let out, let shape):
            .binary(op, a: map(a), aShape: aShape, b: map(b), bShape: bShape, out: map(out), shape: shape)
        case .select(let mask, let maskShape, let a, let aShape, let b, let bShape, let out, let shape):
            .select(
                mask: map(mask), maskShape: maskShape, a: map(a), aShape: aShape, b: map(b), bShape: bShape,
                out: map(out), shape: shape)
        case .gatherStrided(let source, let offset, let strides, let out, let shape):
            .gatherStrided(source: map(source), offset: offset, strides: strides, out: map(out), shape: shape)
        case .scatterStrided(let source, let destination, let offset, let strides, let shape):
            .scatterStrided(
                source: map(source), destination: map(destination), offset: offset, strides: strides, shape: shape)
        case .convert(let x, let out): .convert(x: map(x), out: map(out))
        case .reduce(let op, let x, let shape, let axes, let out):
            .reduce(op, x: map(x), shape: shape, axes: axes, out: map(out))
        case .logSumExp(let x, let outer, let length, let inner, let out):
            .logSumExp(x: map(x), outer: outer, length: length, inner: inner, out: map(out))
        case .matmul(let a, let b, let c, let batch, let m, let n, let k, let tA, let tB):
            .matmul(a: map(a), b: map(b), c: map(c), batch: batch, m: m, n: n, k: k, transposeA: tA, transposeB: tB)
        case .linear(let x, let weight, let bias, let out, let m, let n, let k):
            .linear(x: map(x), weight: map(weight), bias: map(bias), out: map(out), m: m, n: n, k: k)
        case .linearReLU(let x, let weight, let bias, let out, let m, let n, let k):
            .linearReLU(x: map(x), weight: map(weight), bias: map(bias), out: map(out), m: m, n: n, k: k)
        case .matmulReLUBackward(let a, let b, let keep, let c, let m, let n, let k, let tA, let tB):
            .matmulReLUBackward(
                a: map(a), b: map(b), keep: map(keep), c: map(c), m: m, n: n, k: k, transposeA: tA, transposeB: tB)
        case .matmulDropoutBackward(
            let a, let b, let dropoutKeep, let scale, let reluKeep, let c, let m, let n, let k, let tA, let tB):
            .matmulDropoutBackward(
                a: map(a), b: map(b), dropoutKeep: map(dropoutKeep), scale: scale, reluKeep: reluKeep.map(map),
                c: map(c), m: m, n: n, k: k, transposeA: tA, transposeB: tB)
        case .matmulColumnSums(let x, let g, let c, let columnSums, let m, let n, let k):
            .matmulColumnSums(x: map(x), g: map(g), c: map(c), columnSums: map(columnSums), m: m, n: n, k: k)
        case .argReduce(let op, let x, let outer, let length, let inner, let out):
            .argReduce(op, x: map(x), outer: outer, length: length, inner: inner, out: map(out))
        case .indexed(let kind, let x, let outer, let length, let inner, let indices, let out):
            .indexed(kind, x: map(x), outer: outer, length: length, inner: inner, indices: map(indices), out: map(out))
        case .maxPool2d(let input, let out, let indices, let g):
            .maxPool2d(input: map(input), out: map(out), indices: map(indices), g)
        case .attention(let query, let key, let value, let mask, let g, let out, let logSumExp, let probabilities):
            .attention(
                query: map(query), key: map(key), value: map(value), mask: mask.map(map), g, out: map(out),
                logSumExp: map(logSumExp), probabilities: probabilities.map(map))
        case .attentionBackward(
            let gradOut, let query, let key, let value, let mask, let output, let logSumExp, let probabilities, let g,
            let gradQuery, let gradKey, let gradValue):
            .attentionBackward(
                gradOut: map(gradOut), query: map(query), key: map(key), value: map(value), mask: mask.map(map),
                output: map(output), logSumExp: map(logSumExp), probabilities: probabilities.map(map), g,
                gradQuery: map(gradQuery), gradKey: map(gradKey), gradValue: map(gradValue))
        case .convolution2d(let input, let weight, let bias, let out, let g):
            .convolution2d(input: map(input), weight: map(weight), bias: bias.map(map), out: map(out), g)
        case .convolution2dInputGradient(let gradOut, let weight, let gradInput, let g):
            .convolution2dInputGradient(gradOut: map(gradOut), weight: map(weight), gradInput: map(gradInput), g)
        case .convolution2dWeightGradient(let input, let gradOut, let gradWeight, let g):
            .convolution2dWeightGradient(input: map(input), gradOut: map(gradOut), gradWeight: map(gradWeight), g)
        case .bernoulli(let out, let probability, let value, let generator):
            .bernoulli(out: map(out), probability: probability, value: value, generator)
        case .dropout(let x, let out, let keep, let probability, let scale, let generator):
            .dropout(x: map(x), out: map(out), keep: map(keep), probability: probability, scale: scale, generator)
        case .maskedScale(let x, let keep, let scale, let out):
            .maskedScale(x: map(x), keep: map(keep), scale: scale, out: map(out))
        case .sigmoidCrossEntropy(let z, let targets, let sigmoid, let loss):
            .sigmoidCrossEntropy(z: map(z), targets: map(targets), sigmoid: sigmoid.map(map), loss: map(loss))
        case .sigmoidCrossEntropyGradient(let sigmoid, let targets, let scale, let out):
            .sigmoidCrossEntropyGradient(sigmoid: map(sigmoid), targets: map(targets), scale: map(scale), out: map(out))
        case .softmaxCrossEntropy(let z, let labels, let rows, let classes, let probabilities, let loss):
            .softmaxCrossEntropy(
                z: map(z), labels: map(labels), rows: rows, classes: classes, probabilities: probabilities.map(map),
                loss: map(loss))
        case .softmaxCrossEntropyGradient(let probabilities, let labels, let rows, let classes, let scale, let out):
            .softmaxCrossEntropyGradient(
                probabilities: map(probabilities), labels: map(labels), rows: rows, classes: classes, scale: map(scale),
                out: map(out))
        case .normalize(
            let x, let outer, let groups, let inner, let epsilon, let scale, let shift, let out, let mean, let rstd):
            .normalize(
                x: map(x), outer: outer, groups: groups, inner: inner, epsilon: epsilon, scale: scale.map(map),
                shift: shift.map(map), out: map(out), mean: map(mean), rstd: map(rstd))
        case .normalizeBackward(
            let g, let x, let mean, let rstd, let scale, let outer, let groups, let inner, let dx, let sumG,
            let sumGXhat):
            .normalizeBackward(
                g: map(g), x: map(x), mean: map(mean), rstd: map(rstd), scale: scale.map(map), outer: outer,
                groups: groups, inner: inner, dx: map(dx), sumG: map(sumG), sumGXhat: map(sumGXhat))
        case .layerNorm(let x, let rows, let width, let epsilon, let weight, let bias, let out, let mean, let rstd):
            .layerNorm(
                x: map(x), rows: rows, width: width, epsilon: epsilon, weight: weight.map(map), bias: bias.map(map),
                out: map(out), mean: map(mean), rstd: map(rstd))
        case .layerNormBackward(
            let g, let x, let mean, let rstd, let weight, let rows, let width, let dx, let weightGradient,
            let biasGradient):
            .layerNormBackward(
                g: map(g), x: map(x), mean: map(mean), rstd: map(rstd), weight: weight.map(map), rows: rows,
                width: width, dx: map(dx), weightGradient: weightGradient.map(map), biasGradient: biasGradient.map(map))
        case .update(let rule, let weights, let gradient, let state):
            .update(rule, weights: map(weights), gradient: map(gradient), state: state.map(map))
        case .dynamicUpdate(let rule, let weights, let gradient, let state):
            .dynamicUpdate(rule, weights: map(weights), gradient: map(gradient), state: state.map(map))
        case .host(let index): .host(index)
        }
    }

    /// A kernel's check failed during a replay: the eager op would have stopped with its own
    /// message; the replay names the kernel and the element.
    static func replayFailure(_ kernel: String, _ position: Int) -> Never {
        tensorFailure(
            "\(kernel) in a replayed captured step: the index or label at position \(position) is out of range (or, converting to integers, not a whole number in range)"
        )
    }

    /// Runs the kernel on `backend` with the buffers of `table`; an update's state buffers come
    /// as the array the plan built once (`updateState`), not one made per call.
    @inline(__always)
    func run(on backend: any Backend, _ table: UnsafePointer<Unmanaged<Buffer>>, updateState: [Buffer]) {
        @inline(__always) func b(_ slot: Slot) -> Buffer { table[Int(slot)].takeUnretainedValue() }
        switch self {
        case .fill(let out, let value): backend.fill(b(out), with: value)
        case .unary(let op, let x, let out): backend.unary(op, b(x), into: b(out))
        case .binary(let op, let a, let aShape, let bb, let bShape, let out, let shape):
            backend.binary(op, b(a), aShape, b(bb), bShape, into: b(out), shape: shape)
        case .select(let mask, let maskShape, let a, let aShape, let bb, let bShape, let out, let shape):
            backend.select(b(mask), maskShape, b(a), aShape, b(bb), bShape, into: b(out), shape: shape)
        case .gatherStrided(let source, let offset, let strides, let out, let shape):
            backend.copy(StridedView(b(source), offset: offset, strides: strides), into: b(out), shape: shape)
        case .scatterStrided(let source, let destination, let offset, let strides, let shape):
            backend.copy(b(source), into: StridedView(b(destination), offset: offset, strides: strides), shape: shape)
        case .convert(let x, let out):
            if let position = backend.convert(b(x), into: b(out)) { Self.replayFailure("convert", position) }
        case .reduce(let op, let x, let shape, let axes, let out):
            backend.reduce(op, b(x), shape: shape, axes: axes, into: b(out))
        case .logSumExp(let x, let outer, let length, let inner, let out):
            backend.logSumExp(b(x), outer: outer, length: length, inner: inner, into: b(out))
        case .matmul(let a, let bb, let c, let batch, let m, let n, let k, let tA, let tB):
            backend.matmul(b(a), b(bb), into: b(c), batch: batch, m: m, n: n, k: k, transposeA: tA, transposeB: tB)
        case .linear(let x, let weight, let bias, let out, let m, let n, let k):
            backend.linear(b(x), weight: b(weight), bias: b(bias), into: b(out), m: m, n: n, k: k)
        case .linearReLU(let x, let weight, let bias, let out, let m, let n, let k):
            backend.linearReLU(b(x), weight: b(weight), bias: b(bias), into: b(out), m: m, n: n, k: k)
        case .matmulReLUBackward(let a, let bb, let keep, let c, let m, let n, let k, let tA, let tB):
            backend.matmulReLUBackward(
                b(a), b(bb), keep: b(keep), into: b(c), m: m, n: n, k: k, transposeA: tA, transposeB: tB)
        case .matmulDropoutBackward(
            let a, let bb, let dropoutKeep, let scale, let reluKeep, let c, let m, let n, let k, let tA, let tB):
            backend.matmulDropoutBackward(
                b(a), b(bb), dropoutKeep: b(dropoutKeep), scale: scale, reluKeep: reluKeep.map(b), into: b(c), m: m,
                n: n, k: k, transposeA: tA, transposeB: tB)
        case .matmulColumnSums(let x, let g, let c, let columnSums, let m, let n, let k):
            backend.matmulColumnSums(b(x), b(g), into: b(c), columnSums: b(columnSums), m: m, n: n, k: k)
        case .argReduce(let op, let x, let outer, let length, let inner, let out):
            backend.argReduce(op, b(x), outer: outer, length: length, inner: inner, into: b(out))
        case .indexed(let kind, let x, let outer, let length, let inner, let indices, let out):
            let (x, indices, out) = (b(x), b(indices), b(out))
            let position =
                switch kind {
                case .select:
                    backend.indexSelect(x, outer: outer, length: length, inner: inner, indices: indices, into: out)
                case .add: backend.indexAdd(x, outer: outer, length: length, inner: inner, indices: indices, into: out)
                case .gather: backend.gather(x, outer: outer, length: length, inner: inner, indices: indices, into: out)
                case .scatterAdd:
                    backend.scatterAdd(x, outer: outer, length: length, inner: inner, indices: indices, into: out)
                }
            if let position { Self.replayFailure("\(kind)", position) }
        case .maxPool2d(let input, let out, let indices, let g):
            backend.maxPool2d(b(input), into: b(out), indices: b(indices), g)
        case .attention(let query, let key, let value, let mask, let g, let out, let logSumExp, let probabilities):
            backend.attention(
                b(query), b(key), b(value), mask: mask.map(b), g, into: b(out), logSumExp: b(logSumExp),
                probabilities: probabilities.map(b))
        case .attentionBackward(
            let gradOut, let query, let key, let value, let mask, let output, let logSumExp, let probabilities, let g,
            let gradQuery, let gradKey, let gradValue):
            backend.attentionBackward(
                b(gradOut), b(query), b(key), b(value), mask: mask.map(b), output: b(output),
                logSumExp: b(logSumExp), probabilities: probabilities.map(b), g, gradQuery: b(gradQuery),
                gradKey: b(gradKey), gradValue: b(gradValue))
        case .convolution2d(let input, let weight, let bias, let out, let g):
            backend.convolution2d(b(input), weight: b(weight), bias: bias.map(b), into: b(out), g)
        case .convolution2dInputGradient(let gradOut, let weight, let gradInput, let g):
            backend.convolution2dInputGradient(b(gradOut), weight: b(weight), into: b(gradInput), g)
        case .convolution2dWeightGradient(let input, let gradOut, let gradWeight, let g):
            backend.convolution2dWeightGradient(b(input), gradOut: b(gradOut), into: b(gradWeight), g)
        case .bernoulli(let out, let probability, let value, let generator):
            backend.bernoulli(b(out), probability: probability, value: value, generator: &generator.cell.generator)
        case .dropout(let x, let out, let keep, let probability, let scale, let generator):
            backend.dropout(
                b(x), into: b(out), keep: b(keep), probability: probability, scale: scale,
                generator: &generator.cell.generator)
        case .maskedScale(let x, let keep, let scale, let out):
            backend.maskedScale(b(x), keep: b(keep), scale: scale, into: b(out))
        case .sigmoidCrossEntropy(let z, let targets, let sigmoid, let loss):
            backend.sigmoidCrossEntropy(b(z), targets: b(targets), sigmoid: sigmoid.map(b), into: b(loss))
        case .sigmoidCrossEntropyGradient(let sigmoid, let targets, let scale, let out):
            backend.sigmoidCrossEntropyGradient(sigmoid: b(sigmoid), targets: b(targets), scale: b(scale), into: b(out))
        case .softmaxCrossEntropy(let z, let labels, let rows, let classes, let probabilities, let loss):
            if let position = backend.softmaxCrossEntropy(
                b(z), labels: b(labels), rows: rows, classes: classes, probabilities: probabilities.map(b),
                into: b(loss))
            {
                Self.replayFailure("softmaxCrossEntropy", position)
            }
        case .softmaxCrossEntropyGradient(let probabilities, let labels, let rows, let classes, let scale, let out):
            if let position = backend.softmaxCrossEntropyGradient(
                probabilities: b(probabilities), labels: b(labels), rows: rows, classes: classes, scale: b(scale),
                into: b(out))
            {
                Self.replayFailure("softmaxCrossEntropyGradient", position)
            }
        case .normalize(
            let x, let outer, let groups, let inner, let epsilon, let scale, let shift, let out, let mean, let rstd):
            backend.normalize(
                b(x), outer: outer, groups: groups, inner: inner, epsilon: epsilon, scale: scale.map(b),
                shift: shift.map(b), into: b(out), mean: b(mean), rstd: b(rstd))
        case .normalizeBackward(
            let g, let x, let mean, let rstd, let scale, let outer, let groups, let inner, let dx, let sumG,
            let sumGXhat):
            backend.normalizeBackward(
                b(g), b(x), mean: b(mean), rstd: b(rstd), scale: scale.map(b), outer: outer, groups: groups,
                inner: inner, into: b(dx), sumG: b(sumG), sumGXhat: b(sumGXhat))
        case .layerNorm(let x, let rows, let width, let epsilon, let weight, let bias, let out, let mean, let rstd):
            backend.layerNorm(
                b(x), rows: rows, width: width, epsilon: epsilon, weight: weight.map(b), bias: bias.map(b),
                into: b(out), mean: b(mean), rstd: b(rstd))
        case .layerNormBackward(
            let g, let x, let mean, let rstd, let weight, let rows, let width, let dx, let weightGradient,
            let biasGradient):
            backend.layerNormBackward(
                b(g), b(x), mean: b(mean), rstd: b(rstd), weight: weight.map(b), rows: rows, width: width,
                into: b(dx), weightGradient: weightGradient.map(b), biasGradient: biasGradient.map(b))
        case .update(let rule, let weights, let gradient, _):
            backend.update(rule, weights: b(weights), gradient: b(gradient), state: updateState)
        case .dynamicUpdate(let rule, let weights, let gradient, _):
            backend.update(rule.cell.rule, weights: b(weights), gradient: b(gradient), state: updateState)
        case .host: break
        }
    }
}
