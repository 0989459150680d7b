import ArgumentParser
import AutoDiff
import Distributed
import Foundation

/// `bench [workload …]`: the performance issue's workloads, one JSON line each.
///
/// Each workload runs in a child process of its own, so that its peak resident memory is its
/// own and not the largest of all the workloads run before it.
@main
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Times the performance workloads and prints one JSON line per workload.",
        discussion: """
            Workloads: \(Workload.allCases.map(\.rawValue).joined(separator: ", ")) (default: all but memory, thin-products, conv, batchnorm, attention and gemm).
            MNIST workloads read the IDX files from --data, $MNIST_DIR or ../shared/data/mnist, and otherwise \
            use synthetic data of the same shape (the JSON line says which).
            """)

    @Argument(help: "Workloads to run (default: op-overhead moons spiral mnist-b128 mnist-seed004).")
    var workloads: [Workload] = Workload.allCases.filter {
        ![.memory, .thinProducts, .conv, .batchNorm, .attention, .gemm].contains($0)
    }

    @Option(help: "Threads a large kernel is split across (default 2, as the peer measurements use).")
    var threads: Int = 2

    @Option(help: "Folder with the four MNIST IDX files (raw or .gz).")
    var data: String?

    @Flag(help: "Run every training step eagerly (recorded on the tape) instead of replaying a captured step.")
    var eager = false

    @Flag(
        help:
            "Train the MNIST workloads data-parallel over MPI, one rank per process: `mpirun -np 2 bench mnist-b128 --distributed --threads 1`. Rank 0 prints the reports, with the gradient exchange's timings."
    )
    var distributed = false

    @Flag(
        help:
            "With --distributed: all-reduce every bucket of gradients at the end of backward, blocking, instead of starting each during backward (to measure what the overlap gains)."
    )
    var blockingExchange = false

    @Option(
        help:
            "With --distributed: how gradients travel between ranks (automatic: shared memory among each machine's ranks, and MPI between machines, when every machine runs the same number of ranks, else MPI; mpi; shared-memory)."
    )
    var transport: GradientTransport = .automatic

    @Flag(
        help:
            "With --distributed: BatchNorm layers (cnn-mnist) normalize with the global batch's statistics, summed across ranks (SyncBatchNorm)."
    )
    var syncBatchNorm = false

    @Flag(help: "Run in this process (used for the per-workload child processes).")
    var inProcess = false

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    func run() throws {
        // A distributed run stays in the rank's process: a child would be outside the MPI job.
        if distributed {
            let world = try Communicator.world()
            Workload.distributed.store(true, ordering: .releasing)
            Workload.blockingExchange.store(blockingExchange, ordering: .relaxed)
            Workload.transport.withLock { $0 = transport }
            Workload.syncBatchNorm.store(syncBatchNorm, ordering: .relaxed)
            for workload in workloads {
                guard [.mnistB128, .mnistSeed004, .cnnMNIST].contains(workload) else {
                    throw ValidationError("--distributed: workload \(workload.rawValue) is not an MNIST workload")
                }
                try runHere(workload, printing: world.isRoot)
            }
            return
        }
        if inProcess {
            for workload in workloads { try runHere(workload) }
            return
        }
        for workload in workloads {
            // A fresh process per workload: its own peak RSS, no warm caches from the last one.
            let child = Process()
            child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
            if !FileManager.default.isExecutableFile(atPath: child.executableURL!.path) {
                child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            }
            var arguments = [workload.rawValue, "--in-process", "--threads", "\(threads)"]
            if eager { arguments.append("--eager") }
            if let data { arguments += ["--data", data] }
            child.arguments = arguments
            try child.run()
            child.waitUntilExit()
            guard child.terminationStatus == 0 else {
                throw ValidationError("workload \(workload.rawValue) failed with status \(child.terminationStatus)")
            }
        }
    }

    func runHere(_ workload: Workload, printing: Bool = true) throws {
        ComputeThreads.set(threads)
        var report = try workload.run(dataDirectory: data, captured: !eager)
        report.threads = threads
        report.peakResidentMB = peakResidentMegabytes()
        guard printing else { return }
        print(report.jsonLine())
        FileHandle.standardOutput.synchronizeFile()
    }
}

extension GradientTransport: ExpressibleByArgument {}
