import Foundation
import Testing

@testable import Demos

/// ``JobWatch``'s pieces that need no MPI job: reading a process's state, recognizing a pid
/// used again, and the report line in its three cases.
@Suite("JobWatch: the other ranks' processes and the report line")
struct JobWatchTests {
    @Test func readsThisProcessAndRecognizesAnotherStartTime() throws {
        let me = try #require(JobWatch.status(of: getpid()))
        #expect(me.state == "R" || me.state == "S")
        #expect(me.startTime > 0)
        #expect(JobWatch.isRunning(JobWatch.Sibling(pid: getpid(), startTime: me.startTime)))
        // The same pid with another start time is a process that took a dead one's pid.
        #expect(!JobWatch.isRunning(JobWatch.Sibling(pid: getpid(), startTime: me.startTime + 1)))
        #expect(JobWatch.status(of: Int32.max) == nil)
    }

    @Test func seesAChildThatExitedAsGone() throws {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sleep")
        child.arguments = ["30"]
        try child.run()
        let start = try #require(JobWatch.status(of: child.processIdentifier)).startTime
        let sibling = JobWatch.Sibling(pid: child.processIdentifier, startTime: start)
        #expect(JobWatch.isRunning(sibling))
        // This process is the child's launcher, as mpirun is the ranks'.
        #expect(JobWatch.children(of: getpid())?.contains(child.processIdentifier) == true)
        #expect(!JobWatch.anyGone([sibling], launcher: getpid()))
        // SIGKILL: the test runner's threads may block SIGTERM, and a child inherits the mask.
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        #expect(!JobWatch.isRunning(sibling))
        #expect(JobWatch.anyGone([sibling], launcher: getpid()))
        // A launcher that is gone: every sibling is looked up itself.
        #expect(JobWatch.anyGone([sibling], launcher: Int32.max))
    }

    @Test func reportNamesTheCheckpoint() {
        let cause = "another rank of the job exited or was killed"
        #expect(
            JobWatch.report(
                rank: 0, size: 2, cause: cause, checkpointPath: "run.ckpt",
                last: JobWatch.Checkpoint(path: "run.ckpt", progress: "epoch 3"))
                == "Error: rank 0 of 2 stopped: \(cause); the last complete checkpoint is run.ckpt, after epoch 3 (resume with --resume run.ckpt)\n"
        )
        #expect(
            JobWatch.report(rank: 1, size: 4, cause: cause, checkpointPath: "run.ckpt", last: nil)
                == "Error: rank 1 of 4 stopped: \(cause); no checkpoint was complete yet (run.ckpt is written by rank 0)\n"
        )
        #expect(
            JobWatch.report(rank: 1, size: 2, cause: cause, checkpointPath: nil, last: nil)
                == "Error: rank 1 of 2 stopped: \(cause); there is no checkpoint to resume from (--checkpoint PATH keeps one)\n"
        )
    }
}
