// The public face of capture: a step function called like a function, eager for its first calls,
// then recorded twice, compared, and replayed from a plan (CapturePlan.swift) for as long as its
// inputs keep their shapes and its tensors their holders. The idea of tinygrad's TinyJit and
// mlx's `compile`, on this library's backend seam.

#if canImport(Glibc)
    import Glibc
#endif

/// A value a captured step takes or returns: a tensor's memory and shape.
public protocol CaptureArgument {
    /// The buffer holding the value's elements.
    var captureBuffer: Buffer { get }
    /// The value's shape.
    var captureShape: [Int] { get }
    /// A value over `buffer` with `shape`, outside any tape (a replayed step's result).
    static func captured(_ buffer: Buffer, shape: [Int]) -> Self
}

/// What a captured step returns: one value (a tensor) or several (an array of them).
public protocol CaptureResult {
    /// The buffers of the values, in order.
    var captureBuffers: [Buffer] { get }
    /// Their shapes.
    var captureShapes: [[Int]] { get }
    /// The result over `buffers` with `shapes`, outside any tape.
    static func captured(_ buffers: [Buffer], shapes: [[Int]]) -> Self
}

extension Tensor: CaptureResult {
    /// The tensor's buffer, alone.
    public var captureBuffers: [Buffer] { [storage] }
    /// The tensor's shape, alone.
    public var captureShapes: [[Int]] { [shape] }
    /// A constant tensor over the one buffer.
    public static func captured(_ buffers: [Buffer], shapes: [[Int]]) -> Tensor {
        Tensor(shape: shapes[0], storage: buffers[0])
    }
}

extension Array: CaptureResult where Element: CaptureArgument {
    /// The elements' buffers.
    public var captureBuffers: [Buffer] { map(\.captureBuffer) }
    /// The elements' shapes.
    public var captureShapes: [[Int]] { map(\.captureShape) }
    /// Values over `buffers` with `shapes`.
    public static func captured(_ buffers: [Buffer], shapes: [[Int]]) -> [Element] {
        zip(buffers, shapes).map { Element.captured($0, shape: $1) }
    }
}

extension IndexTensor: CaptureArgument {
    /// The tensor's buffer of `int64` elements.
    public var captureBuffer: Buffer { storage }
    /// The tensor's shape.
    public var captureShape: [Int] { shape }
    /// An index tensor over `buffer`.
    public static func captured(_ buffer: Buffer, shape: [Int]) -> IndexTensor {
        IndexTensor(shape: shape, storage: buffer)
    }
}

extension Tensor: CaptureArgument {
    /// The tensor's buffer.
    public var captureBuffer: Buffer { storage }
    /// The tensor's shape.
    public var captureShape: [Int] { shape }
    /// A constant tensor over `buffer`.
    public static func captured(_ buffer: Buffer, shape: [Int]) -> Tensor { Tensor(shape: shape, storage: buffer) }
}

/// A training (or any) step, run eagerly at first and then replayed from a capture of its
/// kernels: forward, backward and optimizer update with no tape, no tensors created and the
/// temporaries' memory planned once.
///
/// ```swift
/// let step = CapturedStep { (x: Tensor<Float>, y: Tensor<Float>) -> Tensor<Float> in
///     optimizer.zeroGrad()
///     let loss = meanSquaredError(model(x), y)
///     loss.backward()
///     optimizer.step()
///     return loss
/// }
/// for batch in batches { print(step(batch.x, batch.y).item) }
/// ```
///
/// For each combination of input shapes, element types, devices and grad mode, the first
/// `warmup` calls run eagerly; the next two are recorded while they run eagerly, and if they
/// recorded the same program (the same kernels with the same constants on the same tensors),
/// later calls replay it: the inputs are bound, host work the step registered (an optimizer's
/// step counter and rule, ``CaptureHostStep``) is repeated, and the kernels run on the same
/// parameters, gradients and state, in place. Dropout draws fresh values on every replay from its
/// ``RandomGeneratorCell``. A replayed call gives bit for bit what the eager call would have.
///
/// What keeps a step eager (``eagerReason`` says which): reading tensor elements on the host
/// inside it (`item`, `scalars`), kernels that return results to the host, constants or kernels
/// that differ between the two recorded calls, state replaced by a new tensor instead of updated
/// in place, tensors on another device. Before each replay the plan checks that every tensor it
/// updates in place has the holders it had when captured: a parameter replaced (loading a
/// checkpoint) or a copy of one kept by the caller makes the step capture again.
///
/// The contract, as for any tracing compiler: the step is a function of its arguments and of
/// the tensors it updates. Swift control flow that depends on anything else (a counter, a flag)
/// is fixed at the recorded calls. The result is returned without a tape; a replay writes it
/// into a buffer the caller no longer holds.
public final class CapturedStep<each Input: CaptureArgument, Output: CaptureResult> {
    private let body: (repeat each Input) -> Output
    /// Eager calls per input signature before the two recorded calls.
    public let warmup: Int
    /// When false, every call runs eagerly (`--eager` in the demos).
    public var isEnabled: Bool
    /// Calls run eagerly, recorded, and replayed, over all signatures.
    public private(set) var eagerCalls = 0, recordedCalls = 0, replayedCalls = 0
    /// Why the most recent call's signature runs eagerly, if it was refused capture.
    public private(set) var eagerReason: String?
    /// Kernels of the most recently built plan (0 before one exists).
    public private(set) var plannedKernelCount = 0
    /// Bytes of temporaries the most recent plan recorded, and the bytes it allocated for them
    /// after sharing memory between temporaries whose lifetimes do not overlap.
    public private(set) var plannedTemporaryBytes: (recorded: Int, allocated: Int) = (0, 0)

    private var entries: [StepSignature: StepEntry] = [:]
    private var last: (signature: StepSignature, entry: StepEntry)?

    /// A step running `body`; `warmup` eager calls per signature (at least 0) before capture.
    public init(warmup: Int = 1, enabled: Bool = true, _ body: @escaping (repeat each Input) -> Output) {
        precondition(warmup >= 0, "CapturedStep: warmup \(warmup) must be ≥ 0")
        self.body = body
        self.warmup = warmup
        isEnabled = enabled
    }

    /// Runs the step: eagerly, recording, or replaying its plan.
    public func callAsFunction(_ input: repeat each Input) -> Output {
        guard isEnabled, !Capture.isRecording else {
            eagerCalls += 1
            return body(repeat each input)
        }
        let entry = self.entry(repeat each input)
        switch entry.phase {
        case .ready(let plan):
            if plan.holdersUnchanged {
                var index = 0
                for value in repeat each input {
                    plan.bind(input: index, value.captureBuffer)
                    index += 1
                }
                replayedCalls += 1
                plan.replay()
                return outputs(plan.outputBuffers, entry.outputShapes)
            }
            entry.invalidations += 1
            entry.phase =
                entry.invalidations > 3
                ? .eager("the tensors the step updates in place were replaced or shared \(entry.invalidations) times")
                : .warming
            entry.calls = warmup
            return eager(repeat each input, entry: entry)
        case .eager:
            return eager(repeat each input, entry: entry)
        case .warming:
            entry.calls += 1
            if entry.calls <= warmup { return eager(repeat each input, entry: entry) }
            let (buffers, shapes, recorder) = record(repeat each input)
            entry.phase = recorder.refusal.map { .eager($0) } ?? .recordedOnce(recorder)
            return outputs(buffers, shapes)
        case .recordedOnce(let first):
            let (buffers, shapes, recorder) = record(repeat each input)
            if let refusal = recorder.refusal {
                entry.phase = .eager(refusal)
            } else if let difference = recorder.difference(from: first) {
                // State created lazily by the first calls (a gradient buffer, an optimizer's
                // moments) can make two recordings differ once: record again, up to twice.
                entry.rerecordings += 1
                entry.phase = entry.rerecordings > 2 ? .eager(difference) : .recordedOnce(recorder)
                if entry.rerecordings > 2 { eagerReason = difference }
            } else {
                var inputs: [Buffer] = []
                for value in repeat each input { inputs.append(value.captureBuffer) }
                do {
                    let plan = try CapturePlan(recorder, inputs: inputs, outputs: buffers)
                    entry.outputShapes = shapes
                    entry.phase = .ready(plan)
                    plannedKernelCount = plan.kernels.count
                    plannedTemporaryBytes = (plan.temporaryBytes.recorded, plan.temporaryBytes.planned)
                    plan.settle()
                } catch {
                    entry.phase = .eager(error.reason)
                    eagerReason = error.reason
                }
            }
            return outputs(buffers, shapes)
        }
    }

    /// The step's results over `buffers`, without a tape.
    private func outputs(_ buffers: [Buffer], _ shapes: [[Int]]) -> Output {
        Output.captured(buffers, shapes: shapes)
    }

    private func eager(_ input: repeat each Input, entry: StepEntry) -> Output {
        eagerCalls += 1
        if case .eager(let reason) = entry.phase { eagerReason = reason }
        let results = body(repeat each input)
        let (buffers, shapes) = (results.captureBuffers, results.captureShapes)
        return outputs(buffers, shapes)
    }

    /// One recorded call: its results' buffers and shapes (the results themselves, with their
    /// tapes, are dropped here) and the recording.
    private func record(_ input: repeat each Input) -> ([Buffer], [[Int]], CaptureRecorder) {
        recordedCalls += 1
        var inputs: [Buffer] = []
        for value in repeat each input { inputs.append(value.captureBuffer) }
        let recorder = CaptureRecorder(device: inputs.first?.device ?? .cpu, inputs: inputs)
        inputs.removeAll()
        let results = recorder.recording { body(repeat each input) }
        let (buffers, shapes) = (results.captureBuffers, results.captureShapes)
        if let refusal = recorder.refusal { eagerReason = refusal }
        return (buffers, shapes, recorder)
    }

    private func entry(_ input: repeat each Input) -> StepEntry {
        let gradEnabled = GradMode.isEnabled
        if let last, last.signature.gradEnabled == gradEnabled {
            var matches = true
            var index = 0
            for value in repeat each input {
                let buffer = value.captureBuffer
                if index >= last.signature.shapes.count || last.signature.shapes[index] != value.captureShape
                    || last.signature.dtypes[index] != buffer.dtype || last.signature.devices[index] != buffer.device
                {
                    matches = false
                }
                index += 1
            }
            if matches { return last.entry }
        }
        var signature = StepSignature(shapes: [], dtypes: [], devices: [], gradEnabled: gradEnabled)
        for value in repeat each input {
            signature.shapes.append(value.captureShape)
            signature.dtypes.append(value.captureBuffer.dtype)
            signature.devices.append(value.captureBuffer.device)
        }
        let entry = entries[signature] ?? StepEntry()
        entries[signature] = entry
        last = (signature, entry)
        return entry
    }
}

/// One input signature of a step: shapes, element types and devices of its inputs, and grad mode.
private struct StepSignature: Hashable {
    var shapes: [[Int]]
    var dtypes: [DType]
    var devices: [Device]
    var gradEnabled: Bool
}

private final class StepEntry {
    var calls = 0
    var invalidations = 0
    var rerecordings = 0
    var phase = StepPhase.warming
    var outputShapes: [[Int]] = []
}

private enum StepPhase {
    case warming
    case recordedOnce(CaptureRecorder)
    case ready(CapturePlan)
    case eager(String)
}

extension CaptureRecorder {
    /// Why this recording and `other` (of the previous call) are not the same program, or nil
    /// when they are: the same kernels with the same constants, slots of the same origin, size
    /// and type, the same tensors from outside the step and the same constants' elements.
    func difference(from other: CaptureRecorder) -> String? {
        if let refusal = other.refusal { return refusal }
        guard kernels.count == other.kernels.count else {
            return
                "two calls of the step ran different numbers of kernels (\(other.kernels.count), then \(kernels.count))"
        }
        for i in kernels.indices where kernels[i] != other.kernels[i] {
            return "two calls of the step differ at kernel \(i): \(other.kernels[i]), then \(kernels[i])"
        }
        guard slots.count == other.slots.count, hostSteps.count == other.hostSteps.count else {
            return "two calls of the step used different numbers of tensors"
        }
        for (i, (a, b)) in zip(slots, other.slots).enumerated() {
            guard a.origin == b.origin, a.count == b.count, a.dtype == b.dtype, a.input == b.input else {
                return "two calls of the step used different tensors at slot \(i)"
            }
            if a.origin == .external, a.input == nil, a.identity != b.identity || !a.alive || !b.alive {
                return
                    "two calls of the step read different tensors from outside it (\(a.count) × \(a.dtype), slot \(i)): pass tensors that change from call to call as arguments"
            }
            if a.origin == .constant, !sameElements(a, b) {
                return
                    "a constant the step builds from host values (\(a.count) × \(a.dtype)) differs between two calls: pass it as an argument"
            }
        }
        for (a, b) in zip(hostSteps, other.hostSteps) where a !== b {
            return "two calls of the step registered different host steps"
        }
        return nil
    }

    private func sameElements(_ a: SlotRecord, _ b: SlotRecord) -> Bool {
        let left = a.snapshot ?? a.buffer.takeUnretainedValue()
        let right = b.snapshot ?? b.buffer.takeUnretainedValue()
        return memcmp(left.hostAddress, right.hostAddress, a.count * a.dtype.byteCount) == 0
    }
}
