import Foundation
import Synchronization

/// A distributed demo's watch over the rest of its MPI job, so that a rank left behind by
/// another rank's death stops with one line of its own instead of waiting silently until
/// `mpirun` kills it.
///
/// What reaches a surviving rank with Open MPI 4.1 when another rank dies: no MPI error (a
/// collective over shared memory waits for the dead rank's part forever, `MPI_ERRORS_RETURN` or
/// not), but `mpirun` tearing the job down — `SIGCONT` at once, `SIGTERM` a second later, and
/// `SIGKILL` a second after that (`odls_base_sigkill_timeout`). A rank blocked in a collective
/// cannot act on the `SIGTERM` itself (``Interruption`` only notes it), so a thread of its own
/// watches, every ``pollInterval``:
///
/// - **the ranks on this machine**: the other `demos` processes `mpirun` (or Open MPI's daemon on
///   another machine) started beside this one, found once at start as the launcher's children
///   running this executable. One that has left the launcher's list of children (`mpirun` reaps
///   a dead rank at once) and whose `/proc/<pid>/stat` is gone, a zombie's or another
///   process's, died: this rank says so at once, well before `mpirun`'s signals.
/// - **`SIGTERM` not acted on**: a rank that was signalled and is still running
///   ``signalGrace`` later is stuck waiting for a rank it cannot see (on another machine), or
///   busy in a step longer than `mpirun` waits; it says that the job is being ended.
///
/// Either way it writes one line naming the last complete checkpoint on standard error and ends
/// with status 1 (`_exit`: MPI cannot be finalized without the dead rank). It waits for a
/// checkpoint being written to be complete first, so the file it names is whole. An ordinary
/// exit disarms the watch first (`atexit`): `MPI_Finalize` waits for every rank, so the ranks of
/// a job that ends normally are all alive until each has begun to exit.
enum JobWatch {
    /// How often the thread looks at the other ranks and at the signal.
    static let pollInterval = 0.05
    /// How long a rank may still run after `SIGTERM` before it reports: `mpirun` sends `SIGKILL`
    /// a second after `SIGTERM`, and ranks that are all alive stop together well within this
    /// (``Interruption``: at the end of the step they are in).
    static let signalGrace = 0.5

    /// The last checkpoint known to be complete on disk, as the line names it.
    struct Checkpoint: Equatable {
        var path: String
        /// What it holds, "epoch 3" or "step 500".
        var progress: String
    }

    /// Another `demos` process of this job on this machine.
    struct Sibling: Equatable {
        var pid: Int32
        /// Its start time in clock ticks since boot (field 22 of `/proc/<pid>/stat`): a pid used
        /// again by a new process has another.
        var startTime: UInt64
    }

    private struct State {
        var rank = 0
        var size = 1
        /// `--checkpoint`, if given (every rank knows it; only rank 0 writes it).
        var checkpointPath: String?
        var lastCheckpoint: Checkpoint?
    }

    private static let state = Mutex(State())
    private static let armed = Atomic<Bool>(false)
    private static let writingCheckpoint = Atomic<Bool>(false)

    /// Starts watching for rank `rank` of a job of `size` ranks (nothing for a job of one),
    /// whose checkpoints go to `checkpointPath`. Call once, after MPI is initialized (every rank
    /// on this machine has been started by then).
    static func start(rank: Int, size: Int, checkpointPath: String?) {
        guard size > 1, !armed.load(ordering: .acquiring) else { return }
        state.withLock {
            $0.rank = rank
            $0.size = size
            $0.checkpointPath = checkpointPath
        }
        let launcher = getppid()
        let siblings = localSiblings(of: launcher)
        Interruption.install()
        armed.store(true, ordering: .releasing)
        // Registered after MPI_Init's own (MPI_Finalize), so it runs before it.
        atexit { JobWatch.armed.store(false, ordering: .releasing) }
        Thread.detachNewThread { watch(siblings, launcher: launcher) }
    }

    /// Records that the `--checkpoint` file is complete on disk and holds the run after
    /// `progress` ("epoch 3"): on rank 0 ``writingCheckpoint(progress:_:)`` calls it as the write
    /// returns; the other ranks call it once a collective after the write has completed (a no-op
    /// without `--checkpoint`).
    static func checkpointCompleted(progress: String) {
        guard armed.load(ordering: .acquiring) else { return }
        state.withLock { state in
            state.lastCheckpoint =
                state.checkpointPath.map { Checkpoint(path: $0, progress: progress) }
                ?? state.lastCheckpoint
        }
    }

    /// Records that every rank resumed from the checkpoint at `path`, which holds the run after
    /// `progress`: the last complete one until the run writes its own.
    static func resumed(from path: String, progress: String) {
        guard armed.load(ordering: .acquiring) else { return }
        state.withLock { $0.lastCheckpoint = Checkpoint(path: path, progress: progress) }
    }

    /// Runs `body`, which writes the `--checkpoint` file with the run after `progress`, with the
    /// watch's report held back until it returns (a rank never ends in the middle of the write),
    /// and records the checkpoint as complete when it returns normally
    /// (``checkpointCompleted(progress:)``) before the report may go.
    static func writingCheckpoint<T>(progress: String, _ body: () throws -> T) rethrows -> T {
        writingCheckpoint.store(true, ordering: .releasing)
        defer { writingCheckpoint.store(false, ordering: .releasing) }
        let result = try body()
        checkpointCompleted(progress: progress)
        return result
    }

    /// The line a rank reports when it stops because of the rest of the job.
    static func report(rank: Int, size: Int, cause: String, checkpointPath: String?, last: Checkpoint?) -> String {
        let kept: String
        if let last {
            kept =
                "the last complete checkpoint is \(last.path), after \(last.progress) (resume with --resume \(last.path))"
        } else if let checkpointPath {
            kept = "no checkpoint was complete yet (\(checkpointPath) is written by rank 0)"
        } else {
            kept = "there is no checkpoint to resume from (--checkpoint PATH keeps one)"
        }
        return "Error: rank \(rank) of \(size) stopped: \(cause); \(kept)\n"
    }

    /// The watching thread: returns when disarmed, or ends the process.
    private static func watch(_ siblings: [Sibling], launcher: Int32) {
        var signalledAt: Double?
        while armed.load(ordering: .acquiring) {
            usleep(UInt32(pollInterval * 1e6))
            if anyGone(siblings, launcher: launcher) {
                stop(cause: "another rank of the job exited or was killed")
            }
            if Interruption.signal == SIGTERM {
                let now = TrainingProgress.monotonicSeconds()
                signalledAt = signalledAt ?? now
                if now - (signalledAt ?? now) >= signalGrace {
                    stop(
                        cause:
                            "SIGTERM arrived and the ranks did not stop together within \(signalGrace) s (mpirun ends a job so when another rank exited or was killed, or when it is interrupted)"
                    )
                }
            }
        }
    }

    /// Writes the report and ends the process, unless the process is exiting on its own.
    private static func stop(cause: String) {
        let deadline = TrainingProgress.monotonicSeconds() + 2
        while writingCheckpoint.load(ordering: .acquiring) && TrainingProgress.monotonicSeconds() < deadline {
            usleep(UInt32(pollInterval * 1e6 / 5))
        }
        let line = state.withLock {
            report(
                rank: $0.rank, size: $0.size, cause: cause, checkpointPath: $0.checkpointPath,
                last: $0.lastCheckpoint)
        }
        guard armed.load(ordering: .acquiring) else { return }
        let bytes = Array(line.utf8)
        bytes.withUnsafeBytes { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
        _exit(1)
    }

    // MARK: The ranks on this machine

    /// The other processes of this executable that `launcher` (this process's parent) started:
    /// the job's other ranks on this machine when the parent is `mpirun` or Open MPI's daemon
    /// (none when the ranks were started through a wrapper such as a shell).
    static func localSiblings(of launcher: Int32) -> [Sibling] {
        guard let ownExecutable = executable(of: "self"), let children = children(of: launcher) else { return [] }
        let me = getpid()
        return children.filter { $0 != me && executable(of: String($0)) == ownExecutable }
            .compactMap { pid in status(of: pid).map { Sibling(pid: pid, startTime: $0.startTime) } }
    }

    /// Whether one of `siblings` has ended. One read of `launcher`'s list of children per call
    /// while they are all listed (a zombie is listed until `mpirun` reaps it, at once); a
    /// sibling missing from it, or every sibling when the list cannot be read, is looked up
    /// itself (the list may miss a child that forks or exits while it is read).
    static func anyGone(_ siblings: [Sibling], launcher: Int32) -> Bool {
        let listed = children(of: launcher).map(Set.init)
        return siblings.contains { sibling in
            if let listed, listed.contains(sibling.pid) { return false }
            return !isRunning(sibling)
        }
    }

    /// The pids of `process`'s children (`/proc/<pid>/task/<tid>/children` of each of its
    /// threads: a child is listed under the thread that forked it), or nil when they cannot be
    /// read.
    static func children(of process: Int32) -> [Int32]? {
        guard let threads = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(process)/task") else {
            return nil
        }
        return threads.flatMap { thread in
            ((try? String(contentsOfFile: "/proc/\(process)/task/\(thread)/children", encoding: .utf8)) ?? "")
                .split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
    }

    /// Whether `sibling` still runs: its pid exists with the same start time and is not a zombie.
    static func isRunning(_ sibling: Sibling) -> Bool {
        guard let status = status(of: sibling.pid) else { return false }
        return status.startTime == sibling.startTime && status.state != "Z" && status.state != "X"
    }

    /// The state letter and start time of process `pid` (`/proc/<pid>/stat`), or nil when there
    /// is no such process.
    static func status(of pid: Int32) -> (state: Character, startTime: UInt64)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        // After "pid (comm)": field 3 (the state) is the first, field 22 (the start time) the 20th.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let state = fields[0].first, let start = UInt64(fields[19]) else { return nil }
        return (state, start)
    }

    private static func executable(of process: String) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(process)/exe")
    }
}
