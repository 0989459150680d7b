#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Per-thread switches of the engine: whether ops are recorded, anomaly detection, and a scoped
/// kernel thread count.
///
/// They are per thread (as in PyTorch) so that a no-grad scope on one thread never changes
/// what another thread records.
final class ThreadState {
    var gradEnabled = true
    var anomalyDetection = false
    /// ``ComputeThreads/withCount(_:_:)``'s thread count on this thread (0: none).
    var computeThreads = 0

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { pointer in
            if let pointer { Unmanaged<ThreadState>.fromOpaque(pointer).release() }
        }
        return key
    }()

    @inline(__always)
    static var current: ThreadState {
        if let pointer = pthread_getspecific(key) {
            return Unmanaged<ThreadState>.fromOpaque(pointer).takeUnretainedValue()
        }
        let state = ThreadState()
        pthread_setspecific(key, Unmanaged.passRetained(state).toOpaque())
        return state
    }
}

/// Scopes that change what the engine records on the current thread.
public enum GradMode {
    /// Whether operations on tensors that require gradients are recorded on this thread.
    public static var isEnabled: Bool { ThreadState.current.gradEnabled }

    /// Whether anomaly detection is on for this thread (see ``withAnomalyDetection(_:)``).
    public static var isAnomalyDetectionEnabled: Bool { ThreadState.current.anomalyDetection }
}

/// Runs `body` without recording anything on the tape: for inference and optimizer updates.
///
/// Results computed inside do not require gradients, even when their inputs do.
@discardableResult
public func withoutGrad<R>(_ body: () throws -> R) rethrows -> R {
    let state = ThreadState.current
    let saved = state.gradEnabled
    state.gradEnabled = false
    defer { state.gradEnabled = saved }
    return try body()
}

/// Runs `body` with recording on (undoing an enclosing ``withoutGrad(_:)``).
@discardableResult
public func withGrad<R>(_ body: () throws -> R) rethrows -> R {
    let state = ThreadState.current
    let saved = state.gradEnabled
    state.gradEnabled = true
    defer { state.gradEnabled = saved }
    return try body()
}

/// Runs `body` with anomaly detection: every op checks its forward result, and backward checks
/// every gradient it computes, for NaN or Infinity. The first op that produces one stops the
/// program with the op's name, the direction (forward or backward), and the file:line in your
/// code that called the op.
///
/// It is slow (each recorded op captures a backtrace): turn it on to find a NaN, not to train.
@discardableResult
public func withAnomalyDetection<R>(_ body: () throws -> R) rethrows -> R {
    let state = ThreadState.current
    let saved = state.anomalyDetection
    state.anomalyDetection = true
    defer { state.anomalyDetection = saved }
    return try body()
}
