// The MPI layer: one process of a job started by `mpirun`, its rank among the others, and the
// collectives data-parallel training needs (barrier, broadcast, all-reduce, nonblocking
// all-reduce). Every call returns MPI's error code (MPI_ERRORS_RETURN is set on the
// communicator) and a failure becomes one line naming the call and MPI's own message.

import AutoDiff
import CMPI
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// An MPI call that failed: the call and MPI's message for its error code (`MPI_Error_string`).
public struct MPIError: Error, CustomStringConvertible, Sendable {
    /// The MPI function that failed, with what it was doing (`"MPI_Allreduce of 4096 × float32"`).
    public let operation: String
    /// MPI's description of the error code.
    public let message: String

    /// `"operation failed: message"`, one line.
    public var description: String { "\(operation) failed: \(message)" }
}

/// How an all-reduce combines the ranks' values.
public enum ReduceOperation: Sendable {
    /// The elementwise sum over ranks, `Σ_r x_r`.
    case sum
    /// The elementwise mean over ranks, `(1/p) Σ_r x_r` (summed, then divided by the world size).
    case mean
}

/// The processes of one MPI job (`MPI_COMM_WORLD`): this process's ``rank`` among ``size``
/// ranks, and the collectives between them. Every rank must make the same collective calls in
/// the same order with the same element counts, as MPI requires.
///
/// ```swift
/// let world = try Communicator.world()          // MPI_Init_thread on first use
/// var losses = [localLossSum, Double(localCount)]
/// try world.allReduce(&losses, .sum)
/// if world.rank == 0 { print("mean loss", losses[0] / losses[1]) }
/// ```
///
/// MPI is initialized once per process, asking for `MPI_THREAD_SERIALIZED` (MPI calls from any
/// thread, one at a time: the training thread makes them all), and finalized when the process
/// exits. A process run without `mpirun` is a job of one rank (MPI's singleton start).
public final class Communicator: @unchecked Sendable {
    /// This process's position among the ranks, `0 ..< size`.
    public let rank: Int
    /// The number of ranks in the job.
    public let size: Int
    let handle: MPI_Comm?

    /// Rank 0, the one that prints, plots and writes files in the demos.
    public var isRoot: Bool { rank == 0 }

    private init(handle: MPI_Comm?) throws {
        self.handle = handle
        var rank: Int32 = 0
        var size: Int32 = 0
        try check(MPI_Comm_rank(handle, &rank), "MPI_Comm_rank")
        try check(MPI_Comm_size(handle, &size), "MPI_Comm_size")
        self.rank = Int(rank)
        self.size = Int(size)
    }

    private static let shared = Mutex<Result<Communicator, MPIError>?>(nil)
    /// ``ranksOnThisMachine()``, once made.
    private let machineRanks = Mutex<Communicator?>(nil)

    /// The job's world communicator, initializing MPI on the first call (later calls return the
    /// same communicator). Throws when MPI cannot start or gives less thread support than
    /// `MPI_THREAD_SERIALIZED`.
    public static func world() throws -> Communicator {
        try shared.withLock { state in
            if let state { return try state.get() }
            let result = Result { try initialize() }.mapError { $0 as! MPIError }
            state = result
            return try result.get()
        }
    }

    /// Whether this process was started by `mpirun` (or another MPI launcher) rather than on
    /// its own: Open MPI sets `OMPI_COMM_WORLD_SIZE` in the ranks' environment.
    public static var isLaunchedByMPI: Bool { getenv("OMPI_COMM_WORLD_SIZE") != nil }

    /// Open MPI's variable for how ranks on one machine move large messages, which this library
    /// sets (unless the environment already does) before MPI starts: see
    /// ``preferSharedMemoryCopies()``.
    static let singleCopyVariable = "OMPI_MCA_btl_vader_single_copy_mechanism"

    /// Asks Open MPI to move the messages between ranks on one machine through its shared-memory
    /// buffers (a copy in by the sender, a copy out by the receiver) rather than by one copy from
    /// the other process's memory (`process_vm_readv`, Linux's cross-memory attach, its default):
    /// the system call pins the other process's pages one by one, which for this library's
    /// gradient buckets (a few hundred KB to a few MB, every step) cost more than the second copy
    /// saves. mnist-b128 on 2 ranks: 0.61–0.70 s a run with cross-memory attach, 0.51–0.54 s
    /// without, the all-reduce 0.34–0.53 → 0.16 ms a step (BENCHMARKS.md, "Distributed training
    /// (MPI)"). A value the environment already gives (`export
    /// OMPI_MCA_btl_vader_single_copy_mechanism=cma`, or `mpirun --mca
    /// btl_vader_single_copy_mechanism cma`) is left alone.
    static func preferSharedMemoryCopies() {
        setenv(singleCopyVariable, "none", 0)
    }

    private static func initialize() throws -> Communicator {
        var initialized: Int32 = 0
        MPI_Initialized(&initialized)
        if initialized == 0 {
            preferSharedMemoryCopies()
            var provided: Int32 = 0
            let requested = Int32(MPI_THREAD_SERIALIZED)
            let code = MPI_Init_thread(nil, nil, requested, &provided)
            guard code == MPI_SUCCESS else {
                throw MPIError(operation: "MPI_Init_thread", message: errorString(code))
            }
            atexit { finalizeAtExit() }
            guard provided >= requested else {
                throw MPIError(
                    operation: "MPI_Init_thread",
                    message:
                        "the MPI library gives thread level \(provided), below MPI_THREAD_SERIALIZED (\(requested)) which training needs"
                )
            }
        }
        let world = cmpi_comm_world()
        let code = MPI_Comm_set_errhandler(world, cmpi_errors_return())
        guard code == MPI_SUCCESS else {
            throw MPIError(operation: "MPI_Comm_set_errhandler", message: errorString(code))
        }
        return try Communicator(handle: world)
    }

    /// The ranks of this communicator that run on this machine and can share memory with this
    /// process, numbered in the order of their ranks here. Made on the first call, which is
    /// collective: every rank must make it at the same point; later calls return the same
    /// communicator.
    ///
    /// A machine is a running kernel (`/proc/sys/kernel/random/boot_id`) seen through the same
    /// IPC, mount and network namespaces (`/proc/self/ns/…`): processes that agree on all four
    /// can map one POSIX shared-memory object, and containers or network namespaces on one
    /// host count as hosts of their own. Every rank's identity is gathered (`MPI_Allgather`)
    /// and the ranks split by it. (`MPI_Comm_split_type` with `MPI_COMM_TYPE_SHARED` decides by
    /// host name; Open MPI 4.1 crashed in it when two network namespaces of one host ran ranks.)
    public func ranksOnThisMachine() throws -> Communicator {
        try machineRanks.withLock { cached in
            if let cached { return cached }
            let width = 256
            var identity = Array(Self.machineIdentity().utf8.prefix(width))
            identity += Array(repeating: 0, count: width - identity.count)
            var everyone = [UInt8](repeating: 0, count: width * size)
            try identity.withUnsafeBytes { mine in
                try everyone.withUnsafeMutableBytes { all in
                    try check(
                        MPI_Allgather(
                            mine.baseAddress, Int32(width), cmpi_byte(), all.baseAddress, Int32(width), cmpi_byte(),
                            handle),
                        "MPI_Allgather of \(size) machine identities")
                }
            }
            // The color of a machine: the lowest rank on it.
            let color = (0..<size).first { everyone[$0 * width..<($0 + 1) * width].elementsEqual(identity) } ?? rank
            let machine = try split(color: color, key: rank)
            cached = machine
            return machine
        }
    }

    /// This process's machine, as ``ranksOnThisMachine()`` tells machines apart: the kernel's
    /// boot id and the IPC, mount and network namespaces, or the host name where `/proc` does
    /// not say.
    static func machineIdentity() -> String {
        let boot = (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)) ?? ""
        let namespaces = ["ipc", "mnt", "net"].map { name -> String in
            var target = [CChar](repeating: 0, count: 256)
            let length = readlink("/proc/self/ns/\(name)", &target, target.count - 1)
            return length > 0 ? String(decoding: target[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        }
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        let hostName = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return boot.isEmpty
            ? hostName : ([boot.trimmingCharacters(in: .whitespacesAndNewlines)] + namespaces).joined(separator: " ")
    }

    /// Splits this communicator (collective: every rank calls it): the ranks that pass the same
    /// `color` form one new communicator, numbered in the order of their `key`s
    /// (`MPI_Comm_split`).
    public func split(color: Int, key: Int) throws -> Communicator {
        var part: MPI_Comm?
        try check(MPI_Comm_split(handle, Int32(color), Int32(key), &part), "MPI_Comm_split of \(size) ranks")
        try check(MPI_Comm_set_errhandler(part, cmpi_errors_return()), "MPI_Comm_set_errhandler")
        return try Communicator(handle: part)
    }

    /// Blocks until every rank has called it (`MPI_Barrier`).
    public func barrier() throws {
        try check(MPI_Barrier(handle), "MPI_Barrier")
    }

    /// Copies rank `root`'s `buffer` into every other rank's `buffer` (`MPI_Bcast`); every rank
    /// passes a buffer of the same count.
    public func broadcast<Scalar: TensorScalar>(_ buffer: UnsafeMutableBufferPointer<Scalar>, from root: Int = 0)
        throws
    {
        try checkRoot(root, "broadcast")
        try check(
            MPI_Bcast(buffer.baseAddress, Int32(buffer.count), Self.datatype(Scalar.self), Int32(root), handle),
            "MPI_Bcast of \(buffer.count) × \(Scalar.dtype)")
    }

    /// Copies rank `root`'s `tensor` into every other rank's tensor of the same shape, in place.
    public func broadcast<Scalar: TensorScalar>(_ tensor: inout Tensor<Scalar>, from root: Int = 0) throws {
        try tensor.withUnsafeMutableBufferPointer { try broadcast($0, from: root) }
    }

    /// Copies rank `root`'s `bytes` to every rank (whose arrays are replaced, whatever their
    /// length): the length first, then the bytes.
    public func broadcast(_ bytes: inout [UInt8], from root: Int = 0) throws {
        try checkRoot(root, "broadcast")
        var count = Int64(bytes.count)
        try check(MPI_Bcast(&count, 1, cmpi_int64(), Int32(root), handle), "MPI_Bcast of a length")
        if rank != root { bytes = [UInt8](repeating: 0, count: Int(count)) }
        try bytes.withUnsafeMutableBytes {
            try check(
                MPI_Bcast($0.baseAddress, Int32(count), cmpi_byte(), Int32(root), handle),
                "MPI_Bcast of \(count) bytes")
        }
    }

    /// Replaces every rank's `buffer` with the elementwise sum or mean of all ranks' buffers
    /// (`MPI_Allreduce`, in place), blocking until it is done.
    public func allReduce<Scalar: TensorScalar>(
        _ buffer: UnsafeMutableBufferPointer<Scalar>, _ operation: ReduceOperation
    )
        throws
    {
        try check(
            MPI_Allreduce(
                cmpi_in_place(), buffer.baseAddress, Int32(buffer.count), Self.datatype(Scalar.self), cmpi_sum(),
                handle),
            "MPI_Allreduce of \(buffer.count) × \(Scalar.dtype)")
        if operation == .mean { Self.divide(buffer, by: size) }
    }

    /// ``allReduce(_:_:)-(UnsafeMutableBufferPointer<Scalar>,_)`` of an array, in place: for
    /// metrics (loss sums, correct counts: whole numbers are exact in `Double` up to 2⁵³).
    public func allReduce<Scalar: TensorScalar>(_ values: inout [Scalar], _ operation: ReduceOperation) throws {
        try values.withUnsafeMutableBufferPointer { try allReduce($0, operation) }
    }

    /// Starts an all-reduce of `buffer` in place and returns at once (`MPI_Iallreduce`); the
    /// result is in `buffer` once the request's ``AllReduceRequest/test()`` returns true or its
    /// ``AllReduceRequest/wait()`` returns. The memory must stay valid and untouched until
    /// then: `owner` (if given) is kept alive by the request for that long.
    public func startAllReduce<Scalar: TensorScalar>(
        _ buffer: UnsafeMutableBufferPointer<Scalar>, _ operation: ReduceOperation, keeping owner: AnyObject? = nil
    ) throws -> AllReduceRequest {
        var request = cmpi_request_null()
        try check(
            MPI_Iallreduce(
                cmpi_in_place(), buffer.baseAddress, Int32(buffer.count), Self.datatype(Scalar.self), cmpi_sum(),
                handle, &request),
            "MPI_Iallreduce of \(buffer.count) × \(Scalar.dtype)")
        let size = self.size
        let completion: () -> Void = operation == .mean ? { Self.divide(buffer, by: size) } : {}
        return AllReduceRequest(
            request: request, description: "MPI_Iallreduce of \(buffer.count) × \(Scalar.dtype)", owner: owner,
            completion: completion)
    }

    /// Ends the whole job at once (`MPI_Abort`): every rank exits with `exitCode`. For a rank
    /// that cannot go on (a failed write, a diverged loss) while the others may be waiting in a
    /// collective for it, where a plain exit would leave them waiting.
    public func abort(exitCode: Int32) -> Never {
        MPI_Abort(handle, exitCode)
        exit(exitCode)
    }

    // MARK: Helpers

    private func checkRoot(_ root: Int, _ operation: String) throws {
        guard (0..<size).contains(root) else {
            throw MPIError(operation: operation, message: "root \(root) is not a rank of a job of \(size)")
        }
    }

    static func datatype<Scalar: TensorScalar>(_ type: Scalar.Type) -> MPI_Datatype {
        switch Scalar.dtype {
        case .float32: return cmpi_float()
        case .float64: return cmpi_double()
        default: tensorFailure("Communicator: elements of type \(Scalar.dtype) cannot be reduced; use Float or Double")
        }
    }

    static func divide<Scalar: TensorScalar>(_ buffer: UnsafeMutableBufferPointer<Scalar>, by count: Int) {
        guard count > 1 else { return }
        let divisor = Scalar(count)
        for i in buffer.indices { buffer[i] /= divisor }
    }
}

/// A nonblocking all-reduce in flight (``Communicator/startAllReduce(_:_:keeping:)``).
/// ``test()`` lets MPI progress it and says whether it is done; ``wait()`` blocks until it is.
/// Open MPI moves a nonblocking collective forward only inside MPI calls, so a caller that
/// overlaps it with computation calls ``test()`` now and then.
public final class AllReduceRequest {
    private var request: MPI_Request?
    private let operationDescription: String
    private var owner: AnyObject?
    private let completion: () -> Void
    /// Whether the all-reduce has finished and its result is in the buffer.
    public private(set) var isComplete = false

    init(request: MPI_Request?, description: String, owner: AnyObject?, completion: @escaping () -> Void) {
        self.request = request
        operationDescription = description
        self.owner = owner
        self.completion = completion
    }

    /// Progresses the all-reduce (`MPI_Test`) and returns whether it has finished.
    @discardableResult
    public func test() throws -> Bool {
        guard !isComplete else { return true }
        var flag: Int32 = 0
        try check(MPI_Test(&request, &flag, cmpi_status_ignore()), "MPI_Test of \(operationDescription)")
        if flag != 0 { complete() }
        return isComplete
    }

    /// Blocks until the all-reduce has finished (`MPI_Wait`).
    public func wait() throws {
        guard !isComplete else { return }
        try check(MPI_Wait(&request, cmpi_status_ignore()), "MPI_Wait of \(operationDescription)")
        complete()
    }

    /// Waits until the all-reduce has finished by testing it (`MPI_Test`) and yielding the core
    /// (`sched_yield`) between tests: a rank waiting for a slower one leaves its core to whatever
    /// else is runnable — the slower rank, on a machine with more processes than cores — instead
    /// of spinning in `MPI_Wait`, without making every `MPI_Test` yield as Open MPI's
    /// `mpi_yield_when_idle` does.
    public func waitYielding() throws {
        while try !test() { sched_yield() }
    }

    private func complete() {
        isComplete = true
        completion()
        owner = nil
    }
}

/// MPI's message for an error code.
func errorString(_ code: Int32) -> String {
    var text = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING) + 1)
    var length: Int32 = 0
    guard MPI_Error_string(code, &text, &length) == MPI_SUCCESS else { return "MPI error code \(code)" }
    return String(decoding: text[..<Int(length)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Throws an ``MPIError`` naming `operation` when `code` is not `MPI_SUCCESS`.
func check(_ code: Int32, _ operation: @autoclosure () -> String) throws {
    guard code != MPI_SUCCESS else { return }
    throw MPIError(operation: operation(), message: errorString(code))
}

/// Finalizes MPI when the process exits normally, so `mpirun` sees a clean end.
private func finalizeAtExit() {
    var finalized: Int32 = 0
    MPI_Finalized(&finalized)
    if finalized == 0 { MPI_Finalize() }
}
