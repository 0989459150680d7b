// Recording one call of a step function: every backend call becomes a `CapturedKernel` and every
// buffer a slot, classified by where it came from (allocated during the step, filled from the
// host during the step, or existing before it). The recorder watches for what would make a
// replay wrong — values read or written on the host between kernels, kernels that hand results
// back to the host, randomness from a generator passed by value, state replaced instead of
// updated — and refuses the capture with a reason; the call it recorded ran eagerly, so a
// refusal costs nothing but the replay.

import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// How many recorders are active in the process: the hooks in the CPU backend and in `Buffer`
/// do nothing but this load when it is zero.
let activeCaptureRecorders = Atomic<Int>(0)

/// Where a slot's buffer came from.
enum SlotOrigin: Equatable {
    /// Existed before the step (parameters, optimizer state, inputs, constants from outside).
    case external
    /// Allocated during the step and first written by a kernel.
    case produced
    /// Allocated during the step and filled from the host (`Tensor(shape:scalars:)` inside it).
    case constant
}

/// What the recorder knows about one slot.
struct SlotRecord {
    /// The buffer, not retained while recording (a retain would turn eager in-place updates
    /// into copies).
    var buffer: Unmanaged<Buffer>
    let identity: ObjectIdentifier
    let count: Int
    let dtype: DType
    let origin: SlotOrigin
    /// The position of the step's argument this buffer is, if it is one.
    var input: Int?
    var alive = true
    var written = false
    /// A constant's elements, copied when its buffer was freed during the step.
    var snapshot: Buffer?
}

/// Host work a captured step must repeat before its kernels on every replay, as its eager code
/// did: an optimizer advancing its step counter and recomputing its rule, for instance.
public protocol CaptureHostStep: AnyObject {
    /// Repeats the host part of the step (called once per replay, at the point where the eager
    /// step did it).
    func replayHostStep()
}

/// A random generator kept by reference, so that a captured step's replays draw from the same
/// stream the eager step drew from, continuing where it stopped.
public final class RandomGeneratorCell {
    /// The generator; kernels advance it in place.
    public var generator: RandomGenerator

    /// A cell holding `generator`.
    public init(_ generator: RandomGenerator) { self.generator = generator }
}

/// An optimizer's update rule kept by reference: recomputed on the host before each step (a
/// learning-rate schedule, Adam's bias corrections) and read by the update kernels, so a replayed
/// step uses the current rule, not the captured one.
public final class UpdateRuleCell {
    /// The rule the next update kernels apply.
    public var rule: UpdateKernel

    /// A cell holding `rule`.
    public init(_ rule: UpdateKernel) { self.rule = rule }
}

final class CaptureRecorder {
    var kernels: [CapturedKernel] = []
    var slots: [SlotRecord] = []
    var hostSteps: [any CaptureHostStep] = []
    /// The first reason this capture cannot be replayed.
    var refusal: String?
    /// Live buffers that have a slot.
    var slotOf: [ObjectIdentifier: Slot] = [:]
    /// Live buffers allocated during the step, and those of them filled from the host.
    var born: Set<ObjectIdentifier> = []
    var hostFilled: Set<ObjectIdentifier> = []
    /// Set by an op just before the backend call that uses it.
    var pendingGenerator: RandomGeneratorCell?
    var pendingRule: UpdateRuleCell?
    /// The device every buffer of the step must be on.
    let device: Device
    /// The buffers of the step's arguments, by position.
    let inputs: [ObjectIdentifier]

    init(device: Device, inputs: [Buffer]) {
        self.device = device
        self.inputs = inputs.map(ObjectIdentifier.init)
        // Only the CPU backend reports its kernels to a recorder.
        if device != .cpu { refuse("captured steps run on the cpu device; this step's inputs are on \(device)") }
    }

    // MARK: Starting and stopping

    /// Runs `body` with this recorder active on the current thread.
    func recording<R>(_ body: () throws -> R) rethrows -> R {
        let state = ThreadState.current
        precondition(state.recorder == nil, "internal: nested capture")
        state.recorder = self
        activeCaptureRecorders.add(1, ordering: .relaxed)
        defer {
            activeCaptureRecorders.subtract(1, ordering: .relaxed)
            state.recorder = nil
        }
        let result = try body()
        // Constants still alive are kept as they are now, for the comparison with the next
        // recording and for the plan.
        for i in slots.indices where slots[i].origin == .constant && slots[i].alive && slots[i].snapshot == nil {
            slots[i].snapshot = slots[i].buffer.takeUnretainedValue()
        }
        return result
    }

    /// The recorder of the current thread, if a capture is running on it.
    @inline(__always)
    static var current: CaptureRecorder? {
        if _fastPath(activeCaptureRecorders.load(ordering: .relaxed) == 0) { return nil }
        return ThreadState.current.recorder
    }

    func refuse(_ reason: @autoclosure () -> String) {
        if refusal == nil { refusal = reason() }
    }

    // MARK: Buffers

    func noteBorn(_ buffer: Buffer) {
        if buffer.device != device {
            refuse("the step allocates a tensor on \(buffer.device); a captured step runs on one device (\(device))")
        }
        born.insert(ObjectIdentifier(buffer))
        buffer.isWatchedByCapture = true
    }

    /// A watched buffer is being freed during the recording.
    func noteDeath(_ buffer: Buffer) {
        let id = ObjectIdentifier(buffer)
        born.remove(id)
        hostFilled.remove(id)
        guard let slot = slotOf.removeValue(forKey: id) else { return }
        slots[Int(slot)].alive = false
        switch slots[Int(slot)].origin {
        case .external:
            refuse(
                "a tensor the step read (\(slots[Int(slot)].count) × \(slots[Int(slot)].dtype)) was freed during the step: state replaced by a new tensor instead of updated in place cannot be replayed"
            )
        case .constant:
            let copy = Buffer.allocateUntracked(buffer.count, buffer.dtype, device: buffer.device)
            copy.hostAddress.copyMemory(from: buffer.hostAddress, byteCount: buffer.count * buffer.dtype.byteCount)
            slots[Int(slot)].snapshot = copy
        case .produced:
            break
        }
    }

    func slot(_ buffer: Buffer, _ access: CapturedKernel.Access) -> Slot {
        let id = ObjectIdentifier(buffer)
        if let slot = slotOf[id] {
            if access != .read { slots[Int(slot)].written = true }
            return slot
        }
        if buffer.device != device {
            refuse("the step uses a tensor on \(buffer.device); a captured step runs on one device (\(device))")
        }
        let origin: SlotOrigin = born.contains(id) ? (hostFilled.contains(id) ? .constant : .produced) : .external
        let slot = Slot(slots.count)
        slots.append(
            SlotRecord(
                buffer: .passUnretained(buffer), identity: id, count: buffer.count, dtype: buffer.dtype, origin: origin,
                input: origin == .external ? inputs.firstIndex(of: id) : nil, written: access != .read))
        slotOf[id] = slot
        buffer.isWatchedByCapture = true
        return slot
    }

    @inline(__always) func read(_ buffer: Buffer) -> Slot { slot(buffer, .read) }
    @inline(__always) func write(_ buffer: Buffer) -> Slot { slot(buffer, .write) }
    @inline(__always) func readWrite(_ buffer: Buffer) -> Slot { slot(buffer, .readWrite) }

    // MARK: Host access

    /// Elements of `buffer` are about to be read on the host.
    func noteHostRead(_ buffer: Buffer) {
        let id = ObjectIdentifier(buffer)
        if slotOf[id] != nil || born.contains(id) {
            refuse(
                "the step reads tensor elements on the host (item, scalars, withUnsafeBufferPointer); a replay would not repeat what it did with them: return the tensor from the step and read it after"
            )
        }
    }

    /// Elements of `buffer` are about to be written from the host.
    func noteHostWrite(_ buffer: Buffer) {
        let id = ObjectIdentifier(buffer)
        if born.contains(id) && slotOf[id] == nil {
            hostFilled.insert(id)
        } else {
            refuse(
                "the step writes elements of an existing tensor from the host; a replay would not repeat it: update it with tensor ops"
            )
        }
    }

    // MARK: Kernels

    func append(_ kernel: CapturedKernel) { kernels.append(kernel) }

    func generatorForNextKernel(_ kernel: String) -> GeneratorReference? {
        guard let cell = pendingGenerator.take() else {
            refuse(
                "\(kernel) draws from a random generator passed by value, which a replay cannot advance: use a RandomGeneratorCell (the Dropout layer does)"
            )
            return nil
        }
        return GeneratorReference(cell: cell)
    }

    func recordHostStep(_ step: any CaptureHostStep) {
        kernels.append(.host(hostSteps.count))
        hostSteps.append(step)
    }
}

// MARK: Hooks

/// Records the backend call `make` describes when a capture is running on this thread. The CPU
/// backend calls it at the top of each kernel; it costs one atomic load otherwise.
@inline(__always)
func captureKernel(_ make: (CaptureRecorder) -> CapturedKernel?) {
    if let recorder = CaptureRecorder.current, let kernel = make(recorder) { recorder.append(kernel) }
}

/// A backend call that hands its result to the host, which a replay cannot reproduce.
@inline(__always)
func captureHostResult(_ kernel: @autoclosure () -> String) {
    if let recorder = CaptureRecorder.current {
        recorder.refuse(
            "\(kernel()) returns its result to the host between kernels, which a replay cannot repeat")
    }
}

/// Public entry points for code above the engine that takes part in capture.
public enum Capture {
    /// Whether a captured step is being recorded on this thread.
    public static var isRecording: Bool { CaptureRecorder.current != nil }

    /// Records `step` to be repeated at this point of every replay (no-op when not recording).
    public static func recordHostStep(_ step: any CaptureHostStep) {
        CaptureRecorder.current?.recordHostStep(step)
    }

    /// Makes the next random kernel `body` runs draw from `cell` when replayed.
    static func using<R>(_ cell: RandomGeneratorCell, _ body: () -> R) -> R {
        CaptureRecorder.current?.pendingGenerator = cell
        return body()
    }

    /// Makes the next update kernel `body` runs read its rule from `cell` when replayed.
    static func using<R>(_ cell: UpdateRuleCell, _ body: () -> R) -> R {
        CaptureRecorder.current?.pendingRule = cell
        return body()
    }
}
