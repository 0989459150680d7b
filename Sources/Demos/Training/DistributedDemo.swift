import AutoDiff
import Distributed
import Foundation
import NN
import Synchronization

/// `--distributed`: the demos' side of data-parallel training over MPI. Every rank runs the same
/// command (`mpirun -np 2 demos mnist --distributed`); rank 0 prints, plots and writes every
/// file, the others train silently. Every rank reads `--load` and `--resume` files itself (on
/// several machines the path must be on a shared file system, or copied to each).
enum DistributedDemo {
    /// Whether ``prepare(_:)`` has joined the job.
    private static let joined = Atomic<Bool>(false)

    /// `--transport`'s help, the same for every demo that trains with `--distributed`.
    static let transportHelp =
        "With --distributed: how the ranks exchange gradients: automatic (shared memory among each machine's ranks, and MPI between machines, when every machine runs the same number of ranks; MPI otherwise), mpi, or shared-memory."

    /// The transport the last ``DistributedTraining`` of this process chose.
    static var transport: GradientTransport? { chosenTransport.withLock { $0 } }
    fileprivate static let chosenTransport = Mutex<GradientTransport?>(nil)

    /// The job's communicator once ``prepare(_:)`` has joined it (``Communicator/world()``
    /// keeps the one instance).
    static var communicator: Communicator? {
        joined.load(ordering: .acquiring) ? try? Communicator.world() : nil
    }

    /// Joins the MPI job when `settings.distributed`, and returns the settings this rank runs
    /// with: rank 0's unchanged; another rank's without the files only rank 0 writes (plots,
    /// `--save`, `--checkpoint`, `--log`, `--tensorboard`), with its standard output discarded.
    static func prepare(_ settings: TrainingSettings) throws -> TrainingSettings {
        guard settings.distributed else { return settings }
        let world = try join(checkpointPath: settings.checkpointPath)
        guard !world.isRoot else { return settings }
        var settings = settings
        settings.plotDirectory = nil
        settings.savePath = nil
        settings.checkpointPath = nil
        settings.logPath = nil
        settings.tensorBoardDirectory = nil
        discardStandardOutput()
        return settings
    }

    /// Joins the MPI job and starts this rank's ``JobWatch`` (its report names
    /// `checkpointPath`, the `--checkpoint` rank 0 writes).
    static func join(checkpointPath: String?) throws -> Communicator {
        let world: Communicator
        do {
            world = try Communicator.world()
        } catch {
            throw DemoError.message("--distributed: \(error)")
        }
        joined.store(true, ordering: .releasing)
        JobWatch.start(rank: world.rank, size: world.size, checkpointPath: checkpointPath)
        return world
    }

    /// Sends this process's standard output to `/dev/null`: a rank other than 0 prints nothing.
    static func discardStandardOutput() {
        let null = open("/dev/null", O_WRONLY)
        guard null >= 0 else { return }
        fflush(nil)
        dup2(null, STDOUT_FILENO)
        close(null)
    }

    /// Compute threads per rank when `--threads` is not given: the cores shared among the
    /// ranks on this machine (Open MPI's `OMPI_COMM_WORLD_LOCAL_SIZE`), at least 1.
    static var defaultThreads: Int {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let local = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? 1
        return max(1, cores / max(1, local))
    }

    /// Whether every rank meets `error` at the same point, so each can exit on its own: a
    /// signal or a diverged loss, both agreed on by an all-reduce every step.
    static func isCollective(_ error: Error) -> Bool {
        guard let error = error as? DemoError else { return false }
        switch error {
        case .interrupted: return true
        case .message(let text): return text.hasPrefix("training diverged")
        case .dataNotFound: return false
        }
    }

    /// Reports `error` for a distributed run and ends this rank: rank 0 prints it, another rank
    /// only when it is its own (prefixed with its rank). An error every rank met together ends
    /// each rank normally; any other ends the whole job (`MPI_Abort`), since the other ranks
    /// may be waiting for this one in a collective.
    static func exit(reporting error: Error, message: String, code: Int32) -> Never {
        guard let world = communicator, world.size > 1 else { Foundation.exit(code) }
        let collective = isCollective(error)
        if world.isRoot || !collective {
            let prefix = world.isRoot ? "" : "rank \(world.rank) of \(world.size): "
            FileHandle.standardError.write(Data("Error: \(prefix)\(message)\n".utf8))
        }
        if collective { Foundation.exit(code) }
        world.abort(exitCode: code)
    }
}

/// What ``ClassifierTraining`` needs to train one replica of a data-parallel run.
struct DistributedTraining {
    let communicator: Communicator
    let parallel: DistributedDataParallel<Float>
    /// Set by the step when the gradient exchange failed inside it (a step cannot throw).
    let failure = FailureBox()

    /// An error a non-throwing closure hands to its caller.
    final class FailureBox {
        var error: Error?
    }

    /// Replicates `model` over the job ``DistributedDemo/join(checkpointPath:)`` joined (rank
    /// 0's weights broadcast to every rank), exchanging gradients over `transport`, with
    /// SyncBatchNorm when `synchronizesBatchNorm`.
    init(model: any Layer<Float>, transport: GradientTransport, synchronizesBatchNorm: Bool = false) throws {
        guard let world = DistributedDemo.communicator else {
            throw DemoError.message("--distributed: the MPI job was not joined before training")
        }
        communicator = world
        do {
            parallel = try DistributedDataParallel(
                model: model, communicator: world, transport: transport,
                synchronizesBatchNorm: synchronizesBatchNorm)
            DistributedDemo.chosenTransport.withLock { $0 = parallel.transport }
        } catch {
            throw DemoError.message("--distributed: \(error)")
        }
    }

    /// Runs `body`, keeping its error for ``rethrow()``.
    func recording(_ body: () throws -> Void) {
        do { try body() } catch { failure.error = failure.error ?? error }
    }

    /// Throws the error a step recorded, or the exchange kept (a replayed step's host steps
    /// cannot throw), if any.
    func rethrow() throws {
        do {
            try parallel.throwIfFailed()
        } catch {
            failure.error = failure.error ?? error
        }
        if let error = failure.error.take() { throw DemoError.message("--distributed: \(error)") }
    }

    /// The step of a rank whose slice of the batch is empty (a batch smaller than the job): it
    /// still takes part in the gradient exchange, with weight 0, and steps with everyone else.
    func stepWithEmptySlice(_ optimizer: Optimizer<Float>) throws {
        optimizer.zeroGrad()
        parallel.gradientWeight = 0
        recording { try parallel.finishGradientSynchronization() }
        try rethrow()
        optimizer.step()
    }

    /// Sums `values` over the ranks.
    func sum(_ values: [Double]) throws -> [Double] {
        do {
            return try parallel.reduceMetrics(values)
        } catch {
            throw DemoError.message("--distributed: \(error)")
        }
    }

    /// This rank's contiguous part `⌊n·r/p⌋ ..< ⌊n·(r+1)/p⌋` of `count` rows.
    func share(of count: Int) -> Range<Int> {
        let sampler = DistributedSampler(
            sampleCount: count, batchSize: max(1, count), rank: communicator.rank, worldSize: communicator.size)
        let (lower, upper) = sampler.slice(ofBatchOf: count)
        return lower..<upper
    }
}
