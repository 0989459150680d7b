// A captured step ready to replay: the kernels of one recorded call with their buffers fixed —
// the step's inputs bound per call, the tensors it keeps (parameters, gradients, optimizer and
// layer state) used in place, its temporaries given memory once, buffers whose lifetimes do not
// overlap sharing it. Replaying is a loop over a flat array: no tape, no closures, no tensors.
//
// Soundness rests on two checks. Before a plan is built, two consecutive calls must record the
// same program (`CaptureRecorder.difference(from:)`): a step whose kernels, constants or state
// change from call to call stays eager. Before each replay, every tensor the plan uses in place
// must have the same holders as when it was built (`swift_retainCount`): a parameter replaced,
// or a copy of it kept by the caller (which an in-place update would change under them), makes
// the step capture again instead of replaying.

import Synchronization

@_silgen_name("swift_retainCount")
private func swiftRetainCount(_ object: UnsafeMutableRawPointer) -> Int

/// The strong reference count of `buffer`.
@inline(__always)
func retainCount(_ buffer: Unmanaged<Buffer>) -> Int { swiftRetainCount(buffer.toOpaque()) }

final class CapturePlan {
    let backend: any Backend
    let kernels: ContiguousArray<CapturedKernel>
    let hostSteps: [any CaptureHostStep]
    /// Slot → buffer for every kernel argument.
    let table: UnsafeMutablePointer<Unmanaged<Buffer>>
    let slotCount: Int
    /// Buffers the plan owns: temporaries, constants, the output.
    var owned: [Buffer]
    /// Per input of the step, its slot (nil when no kernel reads it).
    let inputSlots: [Slot?]
    /// Per result of the step, its slot.
    let outputSlots: [Slot]
    /// Tensors used in place (not owned) with the reference count they had when the plan was built.
    var watched: [(buffer: Unmanaged<Buffer>, identity: ObjectIdentifier, count: Int)] = []
    /// Set when a watched buffer is freed.
    var isValid = true
    /// Bytes of the temporaries before and after sharing (for reports).
    let temporaryBytes: (recorded: Int, planned: Int)

    /// Builds the plan of `recorder`'s program. `inputs` are the buffers the step was called
    /// with, `outputs` those of its results.
    init(_ recorder: CaptureRecorder, inputs: [Buffer], outputs: [Buffer]) throws(CaptureRefusal) {
        backend = recorder.device.backend
        hostSteps = recorder.hostSteps
        slotCount = recorder.slots.count
        table = .allocate(capacity: Swift.max(slotCount, 1))
        owned = []

        var inputSlots: [Slot?] = []
        for buffer in inputs {
            let slot = recorder.slotOf[ObjectIdentifier(buffer)]
            if let slot {
                let record = recorder.slots[Int(slot)]
                guard record.origin == .external else {
                    throw CaptureRefusal("an input of the step is also allocated inside it")
                }
                guard !record.written else {
                    throw CaptureRefusal("the step writes into its input \(inputSlots.count) in place")
                }
                guard !inputSlots.contains(slot) else {
                    throw CaptureRefusal("two inputs of the step share one tensor's memory")
                }
            }
            inputSlots.append(slot)
        }
        self.inputSlots = inputSlots
        var outputSlots: [Slot] = []
        for buffer in outputs {
            guard let slot = recorder.slotOf[ObjectIdentifier(buffer)], recorder.slots[Int(slot)].origin == .produced
            else {
                throw CaptureRefusal(
                    "a result of the step is not computed by its kernels (it returns an input, a constant or a tensor from outside)"
                )
            }
            outputSlots.append(slot)
        }
        self.outputSlots = outputSlots
        let outputSet = Set(outputSlots)

        let inputSet = Set(inputSlots.compactMap { $0 })
        var isTemporary = [Bool](repeating: false, count: slotCount)
        for (index, record) in recorder.slots.enumerated() {
            let slot = Slot(index)
            if inputSet.contains(slot) {
                table[index] = record.buffer  // rebound on every call
                continue
            }
            switch record.origin {
            case .external:
                table[index] = record.buffer
                watched.append((record.buffer, record.identity, 0))
            case .constant:
                let buffer = record.snapshot ?? record.buffer.takeUnretainedValue()
                owned.append(buffer)
                table[index] = .passUnretained(buffer)
            case .produced where outputSet.contains(slot):
                let buffer = record.buffer.takeUnretainedValue()
                owned.append(buffer)
                table[index] = .passUnretained(buffer)
            case .produced where record.alive:
                table[index] = record.buffer
                watched.append((record.buffer, record.identity, 0))
            case .produced:
                isTemporary[index] = true  // memory below
            }
        }

        var program = recorder.kernels
        Self.forwardCopies(&program, isTemporary: isTemporary, slots: recorder.slots)
        // Kernels computing from constants alone (a backward pass's seed and its scale) run once,
        // here; their results become constants of the plan.
        var known = recorder.slots.map { $0.origin == .constant }
        // A temporary written again later (a gradient's zeros, then the sums into them) must be
        // written afresh at every replay: only a slot with one writer is folded.
        var writers = [Int](repeating: 0, count: slotCount)
        for kernel in program {
            kernel.forEachSlot { slot, access in if access != .read { writers[Int(slot)] += 1 } }
        }
        var remaining: [CapturedKernel] = []
        for kernel in program {
            guard let target = Self.foldable(kernel, known: known, isTemporary: isTemporary),
                writers[Int(target)] == 1
            else {
                remaining.append(kernel)
                continue
            }
            let record = recorder.slots[Int(target)]
            let buffer = Buffer.allocateUntracked(record.count, record.dtype, device: recorder.device)
            owned.append(buffer)
            table[Int(target)] = .passUnretained(buffer)
            kernel.run(on: recorder.device.backend, UnsafePointer(table), updateState: [])
            known[Int(target)] = true
            isTemporary[Int(target)] = false
        }
        program = remaining
        Self.fuse(&program, isTemporary: isTemporary)
        kernels = ContiguousArray(program)

        // Temporaries: first and last use; greedy sharing among equal sizes, a buffer free
        // from the kernel after its last use.
        var firstUse = [Int](repeating: -1, count: slotCount)
        var lastUse = [Int](repeating: -1, count: slotCount)
        for (position, kernel) in program.enumerated() {
            kernel.forEachSlot { slot, _ in
                if firstUse[Int(slot)] < 0 { firstUse[Int(slot)] = position }
                lastUse[Int(slot)] = position
            }
        }
        var planned = 0
        var recordedBytes = 0
        var free: [SizeClass: [Buffer]] = [:]
        var releases: [(lastUse: Int, size: SizeClass, buffer: Buffer)] = []
        let temporaries = (0..<slotCount).filter { isTemporary[$0] && firstUse[$0] >= 0 }
            .sorted { firstUse[$0] < firstUse[$1] }
        for index in temporaries {
            let record = recorder.slots[index]
            releases.sort { $0.lastUse > $1.lastUse }
            while let last = releases.last, last.lastUse < firstUse[index] {
                free[last.size, default: []].append(last.buffer)
                releases.removeLast()
            }
            let size = SizeClass(count: record.count, dtype: record.dtype)
            recordedBytes += record.count * record.dtype.byteCount
            let buffer: Buffer
            if let reused = free[size]?.popLast() {
                buffer = reused
            } else {
                buffer = Buffer.allocateUntracked(record.count, record.dtype, device: recorder.device)
                owned.append(buffer)
                planned += record.count * record.dtype.byteCount
            }
            table[index] = .passUnretained(buffer)
            releases.append((lastUse[index], size, buffer))
        }
        temporaryBytes = (recordedBytes, planned)
        CaptureWatch.register(self)
    }

    /// Removes copies of a temporary into another buffer (a gradient into the buffer `zeroGrad`
    /// kept): the kernel that wrote the temporary writes the destination instead, when the
    /// temporary is written once and read only by the copy, and nothing touches the destination
    /// in between.
    static func forwardCopies(_ program: inout [CapturedKernel], isTemporary: [Bool], slots: [SlotRecord]) {
        var j = 0
        while j < program.count {
            defer { j += 1 }
            guard case .convert(let source, let destination) = program[j], isTemporary[Int(source)],
                slots[Int(source)].dtype == slots[Int(destination)].dtype,
                slots[Int(source)].count == slots[Int(destination)].count
            else { continue }
            var uses: [(position: Int, access: CapturedKernel.Access)] = []
            var destinationUses: [Int] = []
            for (position, kernel) in program.enumerated() {
                kernel.forEachSlot { slot, access in
                    if slot == source { uses.append((position, access)) }
                    if slot == destination { destinationUses.append(position) }
                }
            }
            guard uses.count == 2, uses[0].access == .write, uses[1].position == j, uses[0].position < j else {
                continue
            }
            let writer = uses[0].position
            guard !destinationUses.contains(where: { $0 >= writer && $0 < j }),
                !hostStep(between: writer, and: j, in: program)
            else { continue }
            program[writer] = program[writer].mapSlots { $0 == source ? destination : $0 }
            program.remove(at: j)
            j -= 1
        }
    }

    /// Every access to `slot` in `program`, in order.
    static func accesses(of slot: Slot, in program: [CapturedKernel]) -> [(
        position: Int, access: CapturedKernel.Access
    )] {
        var found: [(position: Int, access: CapturedKernel.Access)] = []
        for (position, kernel) in program.enumerated() {
            kernel.forEachSlot { s, access in if s == slot { found.append((position, access)) } }
        }
        return found
    }

    /// Whether no kernel strictly between `start` and `end` touches `slot` (`writesOnly`: writes it),
    /// and no host step runs there: a host step (a gradient exchange, an optimizer's schedule)
    /// may read or write any buffer without naming it, so nothing moves across one.
    static func untouched(
        _ slot: Slot, between start: Int, and end: Int, in program: [CapturedKernel], writesOnly: Bool = false
    ) -> Bool {
        !hostStep(between: start, and: end, in: program)
            && accesses(of: slot, in: program).allSatisfy { use in
                use.position <= start || use.position >= end || (writesOnly && use.access == .read)
            }
    }

    /// Whether a host step runs strictly between `start` and `end`.
    static func hostStep(between start: Int, and end: Int, in program: [CapturedKernel]) -> Bool {
        guard start + 1 < end else { return false }
        return program[(start + 1)..<end].contains { if case .host = $0 { true } else { false } }
    }

    /// The fusions of products with the kernels around them, each only where the result it
    /// saves is a temporary nothing else reads, and where moving a kernel's reads or writes to
    /// the fused kernel's position changes no value another kernel sees. Each fused kernel does
    /// the same floating-point operations in the same order as the kernels it replaces, so a
    /// replay stays bit-identical to the eager step:
    /// - `linear` → `relu`: one ``CapturedKernel/linearReLU(x:weight:bias:out:m:n:k:)`` writing
    ///   the relu's output; relu's backward kernels then read the sign of that output instead of
    ///   the pre-activation (`x > 0` exactly where `relu(x) > 0`), which is no longer stored;
    /// - `matmul` → `reluBackward` of its result: the mask applied as the product is stored
    ///   (``CapturedKernel/matmulReLUBackward(a:b:keep:c:m:n:k:transposeA:transposeB:)``);
    /// - `matmul` → dropout's backward (`maskedScale`) of its result, and relu's backward of that
    ///   when it follows:
    ///   ``CapturedKernel/matmulDropoutBackward(a:b:dropoutKeep:scale:reluKeep:c:m:n:k:transposeA:transposeB:)``;
    /// - a weight gradient `xᵀ·g` and the bias gradient `Σ g` over the same rows: one call
    ///   (``CapturedKernel/matmulColumnSums(x:g:c:columnSums:m:n:k:)``) at the later one's place.
    static func fuse(_ program: inout [CapturedKernel], isTemporary: [Bool]) {
        var position = 0
        while position < program.count {
            if fuseLinearReLU(&program, at: position, isTemporary: isTemporary)
                || fuseReLUBackward(&program, at: position, isTemporary: isTemporary)
                || fuseDropoutBackward(&program, at: position, isTemporary: isTemporary)
                || fuseColumnSums(&program, at: position)
            {
                continue  // the kernel at `position` is now fused; it may fuse again
            }
            position += 1
        }
    }

    /// `linear(x, W, b) → t; relu(t) → h` with `t` read after that only as relu backward's mask.
    static func fuseLinearReLU(_ program: inout [CapturedKernel], at i: Int, isTemporary: [Bool]) -> Bool {
        guard case .linear(let x, let weight, let bias, let t, let m, let n, let k) = program[i], isTemporary[Int(t)]
        else { return false }
        let uses = accesses(of: t, in: program)
        guard uses.count >= 2, uses[0].position == i, uses.dropFirst().allSatisfy({ $0.access == .read }),
            case .unary(.relu, t, let h) = program[uses[1].position], h != t
        else { return false }
        let j = uses[1].position
        var masks: [Int] = []
        for use in uses.dropFirst(2) {
            guard case .binary(.reluBackward, let g, let gShape, t, let tShape, _, let shape) = program[use.position],
                g != t, gShape == shape, tShape == shape
            else { return false }
            masks.append(use.position)
        }
        let hWrites = accesses(of: h, in: program).filter { $0.access != .read }
        guard hWrites.count == 1, hWrites[0].position == j, untouched(h, between: i, and: j, in: program) else {
            return false
        }
        program[i] = .linearReLU(x: x, weight: weight, bias: bias, out: h, m: m, n: n, k: k)
        for position in masks { program[position] = program[position].mapSlots { $0 == t ? h : $0 } }
        program.remove(at: j)
        return true
    }

    /// A one-block product at `i` whose result is a temporary that exactly one later kernel (at
    /// `reader`) reads and nothing else touches.
    static func productWithSoleReader(_ program: [CapturedKernel], at i: Int, isTemporary: [Bool]) -> (
        a: Slot, b: Slot, t: Slot, m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool, reader: Int
    )? {
        guard case .matmul(let a, let b, let t, 1, let m, let n, let k, let tA, let tB) = program[i],
            isTemporary[Int(t)]
        else { return nil }
        let uses = accesses(of: t, in: program)
        guard uses.count == 2, uses[0].position == i, uses[1].access == .read else { return nil }
        return (a, b, t, m, n, k, tA, tB, uses[1].position)
    }

    /// `matmul(a, b) → t; reluBackward(t, keep) → o` with `t` read by nothing else.
    static func fuseReLUBackward(_ program: inout [CapturedKernel], at i: Int, isTemporary: [Bool]) -> Bool {
        guard let (a, b, t, m, n, k, tA, tB, j) = productWithSoleReader(program, at: i, isTemporary: isTemporary),
            case .binary(.reluBackward, t, let tShape, let keep, let keepShape, let o, let shape) = program[j],
            tShape == shape, keepShape == shape, keep != t, ![a, b, keep, t].contains(o)
        else { return false }
        guard untouched(keep, between: i, and: j, in: program, writesOnly: true),
            untouched(o, between: i, and: j, in: program)
        else { return false }
        program[i] = .matmulReLUBackward(a: a, b: b, keep: keep, c: o, m: m, n: n, k: k, transposeA: tA, transposeB: tB)
        program.remove(at: j)
        return true
    }

    /// `matmul(a, b) → t; maskedScale(t, drop) → u` with `t` read by nothing else, and then
    /// `reluBackward(u, keep) → o` too when `u` is a temporary read by nothing else.
    static func fuseDropoutBackward(_ program: inout [CapturedKernel], at i: Int, isTemporary: [Bool]) -> Bool {
        guard let (a, b, t, m, n, k, tA, tB, j) = productWithSoleReader(program, at: i, isTemporary: isTemporary),
            case .maskedScale(t, let drop, let scale, let u) = program[j], drop != t, ![a, b, drop, t].contains(u)
        else { return false }
        guard untouched(drop, between: i, and: j, in: program, writesOnly: true),
            untouched(u, between: i, and: j, in: program)
        else { return false }
        // relu's backward of the dropped gradient, when nothing else reads that.
        let uUses = accesses(of: u, in: program)
        if isTemporary[Int(u)], uUses.count == 2, uUses[0].position == j, uUses[1].access == .read,
            case .binary(.reluBackward, u, let uShape, let keep, let keepShape, let o, let shape) =
                program[uUses[1].position],
            uShape == shape, keepShape == shape, shape.reduce(1, *) == m * n, keep != u,
            ![a, b, drop, keep, u].contains(o)
        {
            let l = uUses[1].position
            if untouched(keep, between: i, and: l, in: program, writesOnly: true),
                untouched(drop, between: i, and: l, in: program, writesOnly: true),
                untouched(o, between: i, and: l, in: program)
            {
                program[i] = .matmulDropoutBackward(
                    a: a, b: b, dropoutKeep: drop, scale: scale, reluKeep: keep, c: o, m: m, n: n, k: k,
                    transposeA: tA, transposeB: tB)
                program.remove(at: l)
                program.remove(at: j)
                return true
            }
        }
        program[i] = .matmulDropoutBackward(
            a: a, b: b, dropoutKeep: drop, scale: scale, reluKeep: nil, c: u, m: m, n: n, k: k, transposeA: tA,
            transposeB: tB)
        program.remove(at: j)
        return true
    }

    /// `matmul(xᵀ, g) → c` and `reduce(sum over axis 0 of g as [k, n]) → s`, in either order.
    static func fuseColumnSums(_ program: inout [CapturedKernel], at i: Int) -> Bool {
        guard case .matmul(let x, let g, let c, 1, let m, let n, let k, true, false) = program[i] else { return false }
        let reduction = program.indices.first { j in
            guard case .reduce(.sum, g, [k, n], [0], let s) = program[j] else { return false }
            return ![x, g, c].contains(s)
        }
        guard let j = reduction, case .reduce(_, _, _, _, let sums) = program[j] else { return false }
        // The earlier kernel moves to the later one's place: its inputs must not change, and its
        // outputs must not be used, in between.
        let (early, late) = (min(i, j), max(i, j))
        let (earlyReads, earlyWrites) = i < j ? ([x, g], [c]) : ([g], [sums])
        guard earlyReads.allSatisfy({ untouched($0, between: early, and: late, in: program, writesOnly: true) }),
            earlyWrites.allSatisfy({ untouched($0, between: early, and: late, in: program) })
        else { return false }
        program[late] = .matmulColumnSums(x: x, g: g, c: c, columnSums: sums, m: m, n: n, k: k)
        program.remove(at: early)
        return true
    }

    /// The slot `kernel` writes if it can run once at planning: a fill, or an elementwise
    /// kernel of known (constant) inputs, writing a temporary.
    static func foldable(_ kernel: CapturedKernel, known: [Bool], isTemporary: [Bool]) -> Slot? {
        let target: Slot
        switch kernel {
        case .fill(let out, _): target = out
        case .unary(_, let x, let out) where known[Int(x)]: target = out
        case .binary(_, let a, _, let b, _, let out, _) where known[Int(a)] && known[Int(b)]: target = out
        default: return nil
        }
        return isTemporary[Int(target)] ? target : nil
    }

    deinit {
        CaptureWatch.unregister(self)
        table.deallocate()
    }

    /// Records the reference counts replays will require (called once the capture's own
    /// references are gone).
    func settle() {
        for i in watched.indices { watched[i].count = retainCount(watched[i].buffer) }
    }

    /// Whether every tensor used in place still has the holders it had when the plan was built.
    @inline(__always)
    var holdersUnchanged: Bool {
        guard isValid else { return false }
        for entry in watched where retainCount(entry.buffer) != entry.count { return false }
        return true
    }

    /// Binds input `index` to `buffer` for the coming replay.
    @inline(__always)
    func bind(input index: Int, _ buffer: Buffer) {
        if let slot = inputSlots[index] { table[Int(slot)] = .passUnretained(buffer) }
    }

    /// The buffers of the step's results after the last replay.
    var outputBuffers: [Buffer] { outputSlots.map { table[Int($0)].takeUnretainedValue() } }

    /// Runs the program once. The caller checked ``holdersUnchanged`` and bound the inputs.
    func replay() {
        // A result is the plan's buffer; if the caller still holds the previous one, the new
        // result goes to a new buffer rather than overwrite the value they kept.
        for slot in outputSlots where retainCount(table[Int(slot)]) > 1 {
            let previous = table[Int(slot)].takeUnretainedValue()
            let fresh = Buffer.allocateUntracked(previous.count, previous.dtype, device: previous.device)
            if let position = owned.firstIndex(where: { $0 === previous }) { owned[position] = fresh }
            table[Int(slot)] = .passUnretained(fresh)
        }
        let table = UnsafePointer(self.table)
        let backend = self.backend
        kernels.withUnsafeBufferPointer { kernels in
            for kernel in kernels {
                switch kernel {
                case .host(let index):
                    hostSteps[index].replayHostStep()
                case .update(_, _, _, let state), .dynamicUpdate(_, _, _, let state):
                    kernel.run(on: backend, table, updateState: state.map { table[Int($0)].takeUnretainedValue() })
                default:
                    kernel.run(on: backend, table, updateState: [])
                }
            }
        }
    }
}

/// Buffers of one element count and type, which temporaries can share.
struct SizeClass: Hashable {
    let count: Int
    let dtype: DType
}

/// Why a step cannot be captured.
struct CaptureRefusal: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// The plans that use buffers they do not own, told when one of those buffers is freed. Plans
/// are kept as addresses (a plan unregisters itself before it is freed).
enum CaptureWatch {
    private static let plans = Mutex<[ObjectIdentifier: [UInt]]>([:])

    private static func address(_ plan: CapturePlan) -> UInt {
        UInt(bitPattern: Unmanaged.passUnretained(plan).toOpaque())
    }

    static func register(_ plan: CapturePlan) {
        let (address, ids) = (address(plan), plan.watched.map(\.identity))
        plans.withLock { plans in
            for id in ids { plans[id, default: []].append(address) }
        }
    }

    static func unregister(_ plan: CapturePlan) {
        let (address, ids) = (address(plan), plan.watched.map(\.identity))
        plans.withLock { plans in
            for id in ids {
                plans[id]?.removeAll { $0 == address }
                if plans[id]?.isEmpty == true { plans[id] = nil }
            }
        }
    }

    static func bufferFreed(_ id: ObjectIdentifier) {
        let users = plans.withLock { plans in plans.removeValue(forKey: id) ?? [] }
        for address in users {
            Unmanaged<CapturePlan>.fromOpaque(UnsafeRawPointer(bitPattern: address)!).takeUnretainedValue().isValid =
                false
        }
    }
}

/// Called by `Buffer.deinit` for a buffer a capture records or a plan uses.
func captureBufferWillBeFreed(_ buffer: Buffer) {
    if activeCaptureRecorders.load(ordering: .relaxed) != 0, let recorder = ThreadState.current.recorder {
        recorder.noteDeath(buffer)
    }
    CaptureWatch.bufferFreed(ObjectIdentifier(buffer))
}
