import Foundation
import Synchronization

/// SIGINT and SIGTERM during training: instead of dying wherever the signal lands (possibly in
/// the middle of writing a checkpoint, leaving a temporary file), the run notes the signal and
/// stops after the step it is in, keeping the last complete checkpoint. A second signal of the
/// same kind ends the process at once, as usual.
enum Interruption {
    /// The signal received, or 0.
    private static let received = Atomic<Int32>(0)

    /// Routes SIGINT and SIGTERM to ``received`` (idempotent).
    static func install() {
        _ = received.load(ordering: .relaxed)  // initialized here, not inside a handler
        // A parent that blocked these signals (a test runner's thread) passes its mask on to us.
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        for signal in [SIGINT, SIGTERM] { sigaddset(&unblocked, signal) }
        pthread_sigmask(SIG_UNBLOCK, &unblocked, nil)
        for signal in [SIGINT, SIGTERM] {
            Foundation.signal(signal) { number in
                if Interruption.received.exchange(number, ordering: .relaxed) == number {
                    Foundation.signal(number, SIG_DFL)
                    raise(number)
                }
            }
        }
    }

    /// The signal that asked the run to stop, if any.
    static var signal: Int32? {
        let number = received.load(ordering: .relaxed)
        return number == 0 ? nil : number
    }
}
