import Foundation
import NN
import Testing

/// `mpirun -np 2 demos … --distributed`: two ranks on this machine (loopback) train the
/// single-process run's model, and a killed rank ends the job without a hang. Skipped, with one
/// line saying why, where Open MPI's `mpirun` is not installed.
@Suite(
    "Distributed training over MPI, end to end",
    .enabled(if: MPIRun.executable != nil, "mpirun not found: apt-get install openmpi-bin libopenmpi-dev"))
struct DistributedRunTests {
    /// The largest difference between two models' tensors, relative to the larger magnitude in
    /// each tensor (`max |a − b| / max(‖a‖∞, ‖b‖∞)`), and the names both files hold.
    static func relativeDifference(_ first: String, _ second: String) throws -> (difference: Double, names: [String]) {
        let a = try Safetensors.read(contentsOf: first, as: Double.self)
        let b = try Safetensors.read(contentsOf: second, as: Double.self)
        #expect(a.names.sorted() == b.names.sorted())
        var worst = 0.0
        for name in a.names {
            let x = a.tensors[name]!.scalars
            let y = b.tensors[name]!.scalars
            let scale = max(x.map(abs).max() ?? 0, y.map(abs).max() ?? 0, 1e-30)
            worst = max(worst, (zip(x, y).map { abs($0 - $1) }.max() ?? 0) / scale)
        }
        return (worst, a.names)
    }

    /// The largest difference between two models' tensors in norm, relative to the first's
    /// (`‖a − b‖₂ / ‖a‖₂` per tensor), leaving out the key projection's bias (the middle third
    /// of each `attn.c_attn.bias`).
    ///
    /// AdamW divides each element's gradient by that element's own running RMS, so an element
    /// whose gradient is at the level of rounding moves by an amount rounding decides: the key
    /// bias exactly (it adds q·b_k to every score of a row, which softmax ignores: its gradient
    /// is 0 but for rounding, scaled up to steps of ±lr), and the weights out of a GELU unit
    /// that is almost never active (about 1e-5 of the tensor's largest element after 40 steps,
    /// while the tensor as a whole agrees to 1e-7). The norm compares what training moved.
    static func transformerDifference(_ first: String, _ second: String) throws -> (
        difference: Double, names: [String]
    ) {
        let a = try Safetensors.read(contentsOf: first, as: Double.self)
        let b = try Safetensors.read(contentsOf: second, as: Double.self)
        #expect(a.names.sorted() == b.names.sorted())
        var worst = 0.0
        for name in a.names {
            var (x, y) = (a.tensors[name]!.scalars, b.tensors[name]!.scalars)
            if name.hasSuffix("attn.c_attn.bias") {
                let width = x.count / 3
                (x, y) = (Array(x[..<width] + x[(2 * width)...]), Array(y[..<width] + y[(2 * width)...]))
            }
            let norm = max(x.map { $0 * $0 }.reduce(0, +).squareRoot(), 1e-30)
            worst = max(worst, zip(x, y).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot() / norm)
        }
        return (worst, a.names)
    }

    /// Expects the safetensors files `first` and `second` in `folder` to hold the same tensors to
    /// within 1e-5 of each tensor's largest magnitude.
    static func expectSameParameters(_ first: String, _ second: String, in folder: URL) throws {
        let (difference, names) = try relativeDifference(
            folder.appendingPathComponent(first).path, folder.appendingPathComponent(second).path)
        #expect(!names.isEmpty)
        #expect(difference <= 1e-5, "largest relative difference \(difference)")
    }

    /// The `--json` line a run printed last (empty when it printed none).
    static func summary(_ run: DemosBinary.Run) -> [String: Any] {
        let line = run.standardOutput.split(separator: "\n").last.map(String.init) ?? ""
        return (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
    }

    @Test(
        "2 ranks end an epoch with one process's parameters (≤ 1e-5 relative) and the same accuracy",
        arguments: [
            // moons: 800 training points in batches of 64, the last of 32.
            ["moons", "--epochs", "1"],
            // spiral: batches of 33 split 16 + 17 (unequal slices), a last batch of 6.
            ["spiral", "--epochs", "1", "--batch-size", "33", "--dropout", "0"],
        ])
    func twoRanksMatchOneProcess(arguments: [String]) throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let common = arguments + ["--no-plot", "--json"]
        let single = try DemosBinary.run(common + ["--save", "single.safetensors", "--threads", "1"], in: folder)
        let ranks = try MPIRun.run(ranks: 2, common + ["--distributed", "--save", "ranks.safetensors"], in: folder)
        #expect(single.exitCode == 0, "stderr: \(single.standardError)")
        #expect(ranks.exitCode == 0, "stderr: \(ranks.standardError)")
        try Self.expectSameParameters("single.safetensors", "ranks.safetensors", in: folder)
        let (one, two) = (Self.summary(single), Self.summary(ranks))
        let accuracy = one["testAccuracy"] != nil ? "testAccuracy" : "validationAccuracy"
        #expect(one[accuracy] as? Double != nil)
        #expect(one[accuracy] as? Double == two[accuracy] as? Double)
        #expect(two["ranks"] as? Int == 2)
        // Only rank 0 prints: one summary line.
        #expect(ranks.standardOutput.split(separator: "\n").count == 1, "stdout: \(ranks.standardOutput)")
        // The distributed step is captured and replayed, its exchange repeated as host steps:
        // bit for bit what the same ranks compute op by op (--eager).
        #expect((two["replayedSteps"] as? Int ?? 0) > 0)
        #expect(two["eagerReason"] == nil)
        let eager = try MPIRun.run(
            ranks: 2, common + ["--distributed", "--eager", "--save", "eager.safetensors"], in: folder)
        #expect(eager.exitCode == 0, "stderr: \(eager.standardError)")
        #expect(Self.summary(eager)["replayedSteps"] as? Int == 0)
        let replayed = try Data(contentsOf: folder.appendingPathComponent("ranks.safetensors"))
        #expect(try Data(contentsOf: folder.appendingPathComponent("eager.safetensors")) == replayed)
    }

    @Test(
        "shared memory and MPI exchange the same bits on 2 ranks; 3 ranks over shared memory match one process (≤ 1e-5 relative)"
    )
    func transports() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let common = ["moons", "--epochs", "1", "--no-plot", "--json", "--distributed"]
        var saved: [String: Data] = [:]
        for transport in ["shared-memory", "mpi"] {
            let run = try MPIRun.run(
                ranks: 2, common + ["--transport", transport, "--save", "\(transport).safetensors"], in: folder)
            #expect(run.exitCode == 0, "stderr: \(run.standardError)")
            saved[transport] = try Data(contentsOf: folder.appendingPathComponent("\(transport).safetensors"))
        }
        // Two ranks' sum a + b is the same in either order, and each rank weights its own.
        #expect(saved["shared-memory"] != nil && saved["shared-memory"] == saved["mpi"])
        // Three ranks on two cores: slices of unequal length, a sum over three sources in rank
        // order, ranks that wait for each other's counters while another holds the core.
        let three = try MPIRun.run(
            ranks: 3, common + ["--transport", "shared-memory", "--save", "three.safetensors"], in: folder)
        #expect(three.exitCode == 0, "stderr: \(three.standardError)")
        #expect(Self.summary(three)["ranks"] as? Int == 3)
        let single = try DemosBinary.run(
            ["moons", "--epochs", "1", "--no-plot", "--json", "--threads", "1", "--save", "single.safetensors"],
            in: folder)
        #expect(single.exitCode == 0, "stderr: \(single.standardError)")
        try Self.expectSameParameters("single.safetensors", "three.safetensors", in: folder)
    }

    @Test(
        "CNN with --sync-batch-norm: 2 ranks, and 3 with unequal slices, end with one process's parameters (≤ 1e-5 relative) and accuracy, replayed as eager; without it they do not"
    )
    func syncBatchNorm() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = folder.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        try IDXFixture.writeToyDataSet(in: data)
        // 184 training images (200 less the validation split) in batches of 100 and 84 (50 and
        // 42 a rank): ten steps through two BatchNorm layers. Without dropout, whose masks a rank draws for its own slice. SGD rather than
        // Adam: the convolutions' biases, which BatchNorm cancels, have gradients of rounding
        // noise, and Adam would scale that noise up to whole steps. (With batches of 40 the
        // toy images' near-ties in max pooling flip with rounding: after five steps even one
        // process with the composed SyncBatchNorm on one rank is 1e-3 from the fused kernel.)
        let common = [
            "mnist", "--data", "data", "--model", "cnn", "--hidden", "16", "--dropout", "0", "--epochs", "5",
            "--batch-size", "100", "--optimizer", "sgd", "--lr", "0.05", "--no-plot", "--json",
        ]
        let single = try DemosBinary.run(common + ["--threads", "1", "--save", "single.safetensors"], in: folder)
        #expect(single.exitCode == 0, "stderr: \(single.standardError)")
        var runs: [String: DemosBinary.Run] = [:]
        for (name, options) in [
            ("synced", ["--sync-batch-norm"]), ("eager", ["--sync-batch-norm", "--eager"]), ("local", []),
        ] {
            let run = try MPIRun.run(
                ranks: 2, common + ["--distributed", "--save", "\(name).safetensors"] + options, in: folder)
            #expect(run.exitCode == 0, "stderr: \(run.standardError)")
            runs[name] = run
        }
        try Self.expectSameParameters("single.safetensors", "synced.safetensors", in: folder)
        let synced = Self.summary(runs["synced"]!)
        #expect(synced["testAccuracy"] as? Double == Self.summary(single)["testAccuracy"] as? Double)
        #expect((synced["replayedSteps"] as? Int ?? 0) > 0 && synced["eagerReason"] == nil)
        let replayed = try Data(contentsOf: folder.appendingPathComponent("synced.safetensors"))
        #expect(try Data(contentsOf: folder.appendingPathComponent("eager.safetensors")) == replayed)
        // Three ranks take slices of 33, 33 and 34 (then 28 each): the gradients of the sums are
        // weighted by unequal shares.
        let three = try MPIRun.run(
            ranks: 3, common + ["--distributed", "--sync-batch-norm", "--save", "three.safetensors"], in: folder)
        #expect(three.exitCode == 0, "stderr: \(three.standardError)")
        try Self.expectSameParameters("single.safetensors", "three.safetensors", in: folder)
        // Each rank normalizing its own 50 or 42 images trains another model: the comparisons above
        // would fail without the synchronization.
        // A batch that leaves a rank without samples would leave the others waiting for its sums:
        // 184 in batches of 183 ends with a batch of 1 for 3 ranks.
        let refused = try MPIRun.run(
            ranks: 3, common.map { $0 == "100" ? "183" : $0 } + ["--distributed", "--sync-batch-norm"], in: folder)
        #expect(refused.exitCode != 0)
        #expect(
            refused.standardError.contains(
                "Error: --sync-batch-norm: a batch of 1 samples leaves some of the 3 ranks without any"),
            "stderr: \(refused.standardError)")
        let (local, _) = try Self.relativeDifference(
            folder.appendingPathComponent("single.safetensors").path,
            folder.appendingPathComponent("local.safetensors").path)
        #expect(local > 1e-3, "largest relative difference without SyncBatchNorm \(local)")
    }

    @Test(
        "words: 2 ranks, stopped and resumed half way, end with one process's parameters and held-out loss (≤ 1e-5 relative)"
    )
    func wordsTwoRanksResumedMatchOneProcess() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        try WordsRunTests.writeWordList(in: folder)
        // Batches of 15 windows split 7 + 8 (unequal slices); 4 held-out batches, 2 per rank.
        let common = [
            "words", "--file", "words.txt", "--eval-interval", "10", "--eval-batches", "4", "--batch-size", "15",
            "--context", "8", "--width", "16", "--heads", "2", "--samples", "3", "--lr", "0.01", "--json", "--no-plot",
        ]
        let single = try DemosBinary.run(
            common + ["--steps", "40", "--threads", "1", "--save", "single.safetensors"], in: folder)
        #expect(single.exitCode == 0, "stderr: \(single.standardError)")
        let first = try MPIRun.run(
            ranks: 2, common + ["--steps", "20", "--distributed", "--checkpoint", "run.ckpt"], in: folder)
        #expect(first.exitCode == 0, "stderr: \(first.standardError)")
        #expect(Self.summary(first)["files"] as? [String] == ["run.ckpt"])
        let resumed = try MPIRun.run(
            ranks: 2,
            common + ["--steps", "40", "--distributed", "--resume", "run.ckpt", "--save", "ranks.safetensors"],
            in: folder)
        #expect(resumed.exitCode == 0, "stderr: \(resumed.standardError)")
        // Only rank 0 prints: one summary line.
        #expect(resumed.standardOutput.split(separator: "\n").count == 1, "stdout: \(resumed.standardOutput)")
        let (difference, names) = try Self.transformerDifference(
            folder.appendingPathComponent("single.safetensors").path,
            folder.appendingPathComponent("ranks.safetensors").path)
        #expect(names.count > 10)
        #expect(difference <= 1e-5, "largest relative difference \(difference)")
        let (one, two) = (Self.summary(single), Self.summary(resumed))
        let heldOut = try #require(one["heldout_loss"] as? Double)
        #expect(abs(heldOut - (two["heldout_loss"] as? Double ?? .nan)) <= 1e-5 * heldOut, "\(one) \(two)")
        // The curve so far came back from the checkpoint: evaluations at steps 10, 20, 30, 40.
        #expect((two["heldout_losses"] as? [[String: Any]])?.compactMap { $0["step"] as? Int } == [10, 20, 30, 40])
        #expect(two["ranks"] as? Int == 2)
        #expect((two["replayed_steps"] as? Int ?? 0) > 0 && two["eager_reason"] == nil, "\(two)")
    }

    @Test(
        "2 ranks as two hosts over TCP (network namespaces joined by a veth pair), and 2 on each host through shared memory and MPI, match one process",
        .enabled(
            if: TwoHosts.available,
            "needs root and `ip netns` (network namespaces); skipped where they cannot be created"))
    func twoHostsOverTCP() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let hosts = try TwoHosts(folder: folder)
        defer { hosts.remove() }
        let common = ["moons", "--epochs", "1", "--no-plot", "--json", "--threads", "1"]
        let single = try DemosBinary.run(common + ["--save", "single.safetensors"], in: folder)
        let ranks = try hosts.run(common + ["--distributed", "--save", "hosts.safetensors"], in: folder)
        #expect(single.exitCode == 0, "stderr: \(single.standardError)")
        #expect(ranks.exitCode == 0, "stderr: \(ranks.standardError)")
        let (difference, _) = try Self.relativeDifference(
            folder.appendingPathComponent("single.safetensors").path,
            folder.appendingPathComponent("hosts.safetensors").path)
        #expect(difference <= 1e-5, "largest relative difference \(difference)")
        #expect(Self.summary(ranks)["ranks"] as? Int == 2)
        #expect(Self.summary(ranks)["transport"] as? String == "mpi")
        #expect(Self.summary(ranks)["testAccuracy"] as? Double == Self.summary(single)["testAccuracy"] as? Double)
        // Two ranks on each host: shared memory on each, MPI between them (hierarchical).
        let four = try hosts.run(
            common + ["--distributed", "--save", "four.safetensors"], in: folder, ranksPerHost: (2, 2))
        #expect(four.exitCode == 0, "stderr: \(four.standardError)")
        #expect(Self.summary(four)["ranks"] as? Int == 4)
        #expect(Self.summary(four)["transport"] as? String == "shared-memory")
        try Self.expectSameParameters("single.safetensors", "four.safetensors", in: folder)
        #expect(Self.summary(four)["testAccuracy"] as? Double == Self.summary(single)["testAccuracy"] as? Double)
        // Two ranks on one host and one on the other: automatic uses MPI; shared memory refuses.
        let uneven = try hosts.run(
            common + ["--distributed", "--save", "uneven.safetensors"], in: folder, ranksPerHost: (2, 1))
        #expect(uneven.exitCode == 0, "stderr: \(uneven.standardError)")
        #expect(Self.summary(uneven)["transport"] as? String == "mpi")
        try Self.expectSameParameters("single.safetensors", "uneven.safetensors", in: folder)
        let refused = try hosts.run(
            common + ["--distributed", "--transport", "shared-memory"], in: folder, ranksPerHost: (2, 1))
        #expect(refused.exitCode != 0)
        #expect(
            refused.standardError.contains("the job's machines run different numbers of ranks"),
            "stderr: \(refused.standardError)")
    }

    @Test("a rank killed mid-run ends the job within seconds; the last checkpoint resumes")
    func killedRank() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let checkpoint = folder.appendingPathComponent("run.ckpt").path
        let job = try MPIRun.startCheckpointedMoons(in: folder)
        // Let the ranks get well into later epochs.
        Thread.sleep(forTimeInterval: 0.5)
        let rank = try #require(MPIRun.rankProcesses(of: job.process.processIdentifier).last, "no rank processes found")
        kill(rank, SIGKILL)
        let seconds = job.secondsToEnd()
        let error = job.standardError()
        #expect(seconds < 15, "the job took \(seconds) s to end after a rank was killed")
        #expect(job.process.terminationStatus != 0)
        #expect(error.contains("exited on signal 9"), "stderr: \(error)")
        // The surviving rank's own line, naming the checkpoint it can be resumed from.
        #expect(
            error.contains(
                "Error: rank 0 of 2 stopped: another rank of the job exited or was killed; the last complete checkpoint is run.ckpt, after epoch "
            ), "stderr: \(error)")
        // The checkpoint is whole: every rank resumes from it for one more epoch.
        let saved = try Safetensors.read(contentsOf: checkpoint, as: Double.self)
        let epoch = try #require(saved.metadata["step"].flatMap(Int.init))
        let resumed = try MPIRun.run(
            ranks: 2,
            ["moons", "--distributed", "--no-plot", "--epochs", "\(epoch + 1)", "--resume", "run.ckpt", "--json"],
            in: folder)
        #expect(resumed.exitCode == 0, "stderr: \(resumed.standardError)")
        #expect(Self.summary(resumed)["epochs"] as? Int == epoch + 1)
    }

    @Test("a signalled rank whose peer is alive but does not answer (stopped) reports within a second")
    func signalledRankWithStoppedPeer() throws {
        let folder = try TemporaryFolder.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let job = try MPIRun.startCheckpointedMoons(in: folder)
        let ranks = MPIRun.rankProcesses(of: job.process.processIdentifier)
        try #require(ranks.count == 2, "rank processes: \(ranks)")
        // Rank 1 stays alive but cannot answer, as a rank on another machine that died looks to
        // rank 0 (which cannot see its process); rank 0 gets the SIGTERM mpirun would send.
        kill(ranks[1], SIGSTOP)
        defer { kill(ranks[1], SIGKILL) }
        Thread.sleep(forTimeInterval: 0.2)
        kill(ranks[0], SIGTERM)
        let seconds = job.secondsToEnd()
        let error = job.standardError()
        #expect(seconds < 15, "the job took \(seconds) s to end")
        #expect(job.process.terminationStatus != 0)
        #expect(
            error.contains("Error: rank 0 of 2 stopped: SIGTERM arrived and the ranks did not stop together within"),
            "stderr: \(error)")
        #expect(error.contains("the last complete checkpoint is run.ckpt, after epoch "), "stderr: \(error)")
    }
}

/// Starts `demos` under Open MPI's `mpirun` on this machine.
enum MPIRun {
    /// `mpirun` on the `PATH`, if installed.
    static let executable: URL? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { URL(fileURLWithPath: String($0)).appendingPathComponent("mpirun") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    /// A job started in the background, its output going to files.
    struct Job {
        let process: Process
        let outputURL: URL
        let errorURL: URL
        func standardError() -> String { (try? String(contentsOf: errorURL, encoding: .utf8)) ?? "" }

        /// Waits up to 30 s for the job to end (then interrupts it) and returns the seconds it took.
        func secondsToEnd() -> Double {
            let start = Date()
            while process.isRunning && Date().timeIntervalSince(start) < 30 { Thread.sleep(forTimeInterval: 0.05) }
            let seconds = Date().timeIntervalSince(start)
            if process.isRunning { process.interrupt() }
            process.waitUntilExit()
            return seconds
        }
    }

    /// Starts 2 ranks of a moons run of 100,000 epochs that saves `run.ckpt` in `folder` after
    /// each, and returns once the first checkpoint is there (or after a minute).
    static func startCheckpointedMoons(in folder: URL) throws -> Job {
        let job = try start(
            ranks: 2,
            ["moons", "--distributed", "--no-plot", "--quiet", "--epochs", "100000", "--checkpoint", "run.ckpt"],
            in: folder)
        let checkpoint = folder.appendingPathComponent("run.ckpt").path
        let started = Date()
        while !FileManager.default.fileExists(atPath: checkpoint) && Date().timeIntervalSince(started) < 60 {
            Thread.sleep(forTimeInterval: 0.05)
        }
        return job
    }

    /// mpirun's arguments for `ranks` ranks of `demos arguments` on this machine: as root when
    /// the tests run as root (containers, CI), oversubscribing the cores, over shared memory
    /// and TCP loopback.
    static func arguments(ranks: Int, _ arguments: [String]) -> [String] {
        ["-np", "\(ranks)", "--oversubscribe", "--bind-to", "none", "--mca", "btl_tcp_if_include", "lo"]
            + (getuid() == 0 ? ["--allow-run-as-root"] : []) + [DemosBinary.url?.path ?? "demos"] + arguments
    }

    static func start(ranks: Int, _ arguments: [String], in folder: URL) throws -> Job {
        try start(executable!, Self.arguments(ranks: ranks, arguments), in: folder)
    }

    /// Starts `executable` with `arguments` in `folder`, its output going to files there.
    static func start(_ executable: URL, _ arguments: [String], in folder: URL) throws -> Job {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = folder
        let output = folder.appendingPathComponent(".mpirun-stdout-\(UUID().uuidString)")
        let error = folder.appendingPathComponent(".mpirun-stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        _ = FileManager.default.createFile(atPath: error.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: error)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return Job(process: process, outputURL: output, errorURL: error)
    }

    /// Runs a job to its end and returns what it printed (mpirun's standard output carries rank
    /// 0's; the other ranks print nothing there).
    static func run(ranks: Int, _ arguments: [String], in folder: URL) throws -> DemosBinary.Run {
        try finish(start(ranks: ranks, arguments, in: folder))
    }

    /// Waits for `job` and returns what it printed, removing its output files.
    static func finish(_ job: Job) -> DemosBinary.Run {
        job.process.waitUntilExit()
        defer {
            try? FileManager.default.removeItem(at: job.outputURL)
            try? FileManager.default.removeItem(at: job.errorURL)
        }
        return DemosBinary.Run(
            exitCode: job.process.terminationStatus,
            standardOutput: (try? String(contentsOf: job.outputURL, encoding: .utf8)) ?? "",
            standardError: job.standardError())
    }

    /// The `demos` processes mpirun started (its children, through Open MPI's local daemon when
    /// there is one), in process-id order.
    static func rankProcesses(of launcher: Int32) -> [Int32] {
        var found: [Int32] = []
        var frontier = [launcher]
        while let parent = frontier.popLast() {
            let children =
                (try? String(contentsOfFile: "/proc/\(parent)/task/\(parent)/children", encoding: .utf8))?
                .split(separator: " ").compactMap { Int32($0) } ?? []
            for child in children {
                let name = (try? String(contentsOfFile: "/proc/\(child)/comm", encoding: .utf8)) ?? ""
                if name.hasPrefix("demos") { found.append(child) } else { frontier.append(child) }
            }
        }
        return found.sorted()
    }
}

/// Two "hosts" on this machine: network namespaces joined by a veth pair (10.77.0.1 and
/// 10.77.0.2), mpirun in the first, the second rank started in the second by an rsh agent that
/// runs `ip netns exec`; the ranks talk over TCP only (`--mca btl tcp,self`).
struct TwoHosts {
    let names: (String, String)
    let agent: URL

    /// Whether network namespaces can be created here (root, `ip` installed, permitted).
    static let available: Bool = {
        guard getuid() == 0, MPIRun.executable != nil else { return false }
        let probe = "ddpprobe\(getpid())"
        guard (try? TwoHosts.ip(["netns", "add", probe])) == 0 else { return false }
        _ = try? TwoHosts.ip(["netns", "del", probe])
        return true
    }()

    /// The `ip` tool (iproute2).
    static let ipTool =
        ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].map { URL(fileURLWithPath: $0) }
        .first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? URL(fileURLWithPath: "/usr/sbin/ip")

    /// Runs `ip arguments`, quietly; returns its exit status.
    @discardableResult
    static func ip(_ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = ipTool
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    init(folder: URL) throws {
        let id = getpid() % 100_000
        names = ("ddpa\(id)", "ddpb\(id)")
        let (a, b) = names
        agent = folder.appendingPathComponent("netns-agent.sh")
        try """
        #!/bin/sh
        host=$1; shift
        case "$host" in 10.77.0.1) ns=\(a) ;; 10.77.0.2) ns=\(b) ;; *) exit 1 ;; esac
        exec ip netns exec "$ns" sh -c "$*"
        """.write(to: agent, atomically: true, encoding: .utf8)
        chmod(agent.path, 0o755)
        let steps: [[String]] = [
            ["netns", "add", a], ["netns", "add", b],
            ["link", "add", "v\(a)", "type", "veth", "peer", "name", "v\(b)"],
            ["link", "set", "v\(a)", "netns", a], ["link", "set", "v\(b)", "netns", b],
            ["-n", a, "addr", "add", "10.77.0.1/24", "dev", "v\(a)"],
            ["-n", b, "addr", "add", "10.77.0.2/24", "dev", "v\(b)"],
            ["-n", a, "link", "set", "v\(a)", "up"], ["-n", b, "link", "set", "v\(b)", "up"],
            ["-n", a, "link", "set", "lo", "up"], ["-n", b, "link", "set", "lo", "up"],
        ]
        for step in steps where try Self.ip(step) != 0 {
            remove()
            throw DemoError("ip \(step.joined(separator: " ")) failed")
        }
    }

    /// Deletes both namespaces (and with them the veth pair).
    func remove() {
        _ = try? Self.ip(["netns", "del", names.0])
        _ = try? Self.ip(["netns", "del", names.1])
    }

    /// `mpirun` in the first namespace, `ranksPerHost` ranks on the two hosts, over TCP between
    /// 10.77.0.1 and 10.77.0.2.
    func run(_ arguments: [String], in folder: URL, ranksPerHost: (Int, Int) = (1, 1)) throws -> DemosBinary.Run {
        let mpirun = [
            "netns", "exec", names.0, MPIRun.executable!.path, "--allow-run-as-root", "-np",
            "\(ranksPerHost.0 + ranksPerHost.1)", "--host", "10.77.0.1:\(ranksPerHost.0),10.77.0.2:\(ranksPerHost.1)",
            "--mca", "plm_rsh_agent", agent.path,
            "--mca", "btl", "tcp,self",
            "--mca", "btl_tcp_if_include", "10.77.0.0/24", "--mca", "oob_tcp_if_include", "10.77.0.0/24",
            "-x", "OMPI_ALLOW_RUN_AS_ROOT=1", "-x", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
            DemosBinary.url?.path ?? "demos",
        ]
        return MPIRun.finish(try MPIRun.start(Self.ipTool, mpirun + arguments, in: folder))
    }

    /// A failure to set the namespaces up.
    struct DemoError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
