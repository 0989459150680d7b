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
    /// The first anomaly found in the innermost ``withAnomalyDetection(_:)`` scope.
    var anomaly: Anomaly?
    /// ``ComputeThreads/withCount(_:_:)``'s thread count on this thread (0: none).
    var computeThreads = 0
    /// The capture recording on this thread (Engine/Capture/).
    var recorder: CaptureRecorder?

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
/// every gradient it computes, for NaN or infinity. The first op that produces one is reported as
/// an ``Anomaly`` thrown when the scope ends: the op's name, the direction (forward or backward),
/// the element, the shape and the file:line in your code that called the op. The body runs to
/// its end (NaN flows on, as it would without the scope), so a training script can catch the
/// error, log it and decide what to do; the process stops only if nothing catches it.
///
/// ```swift
/// do {
///     try withAnomalyDetection { loss(model(x), y).backward() }
/// } catch let anomaly as Anomaly {
///     print(anomaly)   // anomaly: log produced -inf in its forward pass (element 3 of shape [64, 1]), called at …
/// }
/// ```
///
/// It is slow (each recorded op captures a backtrace): turn it on to find a NaN, not to train.
/// An error `body` throws is rethrown, unless an anomaly came first.
@discardableResult
public func withAnomalyDetection<R>(_ body: () throws -> R) throws -> R {
    let state = ThreadState.current
    let (savedMode, savedAnomaly) = (state.anomalyDetection, state.anomaly)
    state.anomalyDetection = true
    state.anomaly = nil
    defer { (state.anomalyDetection, state.anomaly) = (savedMode, savedAnomaly) }
    let result: R
    do {
        result = try body()
    } catch {
        throw state.anomaly ?? error
    }
    if let anomaly = state.anomaly { throw anomaly }
    return result
}

/// The first op that produced NaN or infinity inside ``withAnomalyDetection(_:)``.
public struct Anomaly: Error, Sendable, Equatable, CustomStringConvertible {
    /// The pass in which the value appeared.
    public enum Direction: String, Sendable, Equatable {
        /// The forward pass (an op's result) or the backward pass (a rule's gradient).
        case forward, backward
    }

    /// The op that produced the value (for backward: whose rule computed the gradient).
    public let op: OpKind
    /// The pass in which the value appeared.
    public let direction: Direction
    /// The first non-finite element, in row-major order, and its value.
    public let element: Int
    /// The first non-finite value itself (NaN, +∞ or −∞), as a `Double`.
    public let value: Double
    /// The shape of the op's result (forward) or of the gradient (backward).
    public let shape: [Int]
    /// `file:line` of the first frame outside the library: where your code called the op.
    public let callSite: String?

    public var description: String {
        "anomaly: \(op.rawValue) produced \(value) in its \(direction.rawValue) pass (element \(element) of shape "
            + "\(shape))\(callSite.map { ", called at \($0)" } ?? "")"
    }
}
