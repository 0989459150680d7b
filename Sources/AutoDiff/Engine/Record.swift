import Runtime
import Synchronization

extension Tensor {
    /// Attaches a freshly computed result to the tape, if any input is tracked and recording is
    /// on. Every op funnels through here, so this is the one place that decides what is recorded
    /// and where anomaly detection looks at forward values.
    ///
    /// `makePullback` is only called when a node is created, so an op that needs no gradient
    /// allocates nothing for its rule.
    @inline(__always)
    consuming func recorded(
        _ op: OpKind, _ a: Tensor, _ b: Tensor? = nil, savingOutput: Bool = false,
        _ makePullback: () -> Pullback<Scalar>
    ) -> Tensor {
        let state = ThreadState.current
        if _slowPath(state.anomalyDetection) { checkFinite(op, direction: .forward) }
        guard Tensor.willRecord(a, b, gradEnabled: state.gradEnabled) else { return self }
        let node = GradNode<Scalar>(
            op: op, shape: shape, first: a.node, second: b?.node, pullback: makePullback(), arity: b == nil ? 1 : 2)
        return attach(node, savingOutput: savingOutput, anomaly: state.anomalyDetection)
    }

    /// Whether an op on `a` (and `b`) will be recorded: recording is on and an input is tracked.
    /// An op that saves something for its backward pass asks this before computing it.
    @inline(__always)
    static func willRecord(_ a: Tensor, _ b: Tensor? = nil, gradEnabled: Bool = ThreadState.current.gradEnabled)
        -> Bool
    {
        gradEnabled && (a.node != nil || b?.node != nil)
    }

    /// The n-ary form of ``recorded(_:_:_:savingOutput:_:)``.
    @inline(__always)
    consuming func recorded(
        _ op: OpKind, _ inputs: [Tensor], savingOutput: Bool = false,
        _ makePullback: () -> Pullback<Scalar>
    ) -> Tensor {
        let state = ThreadState.current
        if _slowPath(state.anomalyDetection) { checkFinite(op, direction: .forward) }
        guard state.gradEnabled, inputs.contains(where: { $0.node != nil }) else { return self }
        let node = GradNode<Scalar>(op: op, shape: shape, inputs: inputs.map { $0.node }, pullback: makePullback())
        return attach(node, savingOutput: savingOutput, anomaly: state.anomalyDetection)
    }

    @inline(__always)
    private consuming func attach(_ node: GradNode<Scalar>, savingOutput: Bool, anomaly: Bool) -> Tensor {
        if savingOutput { node.savedOutput = storage }
        if _slowPath(anomaly) { node.callSite = (try? Backtrace.capture()).map(CallSite.init) }
        return Tensor(shape: shape, storage: storage, node: node)
    }

    /// Anomaly mode: records the first non-finite value of the scope, naming the op and the
    /// user's call site (later ones are the same NaN flowing on).
    func checkFinite(_ op: OpKind, direction: Anomaly.Direction, callSite: CallSite? = nil) {
        let state = ThreadState.current
        guard state.anomaly == nil, let i = backend.firstNonFinite(storage) else { return }
        state.anomaly = Anomaly(
            op: op, direction: direction, element: i, value: Double(withHostElements { $0[i] }), shape: shape,
            callSite: userCallSite(callSite?.backtrace ?? (try? Backtrace.capture())))
    }
}

/// The source folders of libraries whose frames anomaly reports skip to find the user's line:
/// this module's own, and those that call ``registerLibrarySources(_:)``.
private let librarySources = Mutex<Set<String>>([sourceFolder(of: #filePath, levelsUp: 2)])

/// The folder `levelsUp` levels above the file at `path`, with a trailing slash.
private func sourceFolder(of path: String, levelsUp: Int) -> String {
    var components = path.split(separator: "/", omittingEmptySubsequences: false)
    components.removeLast(Swift.min(levelsUp, components.count - 1))
    return components.joined(separator: "/") + "/"
}

/// Marks the folder holding `file` (pass `#filePath` from a file at the top of a library's
/// sources) as library code: anomaly reports name the first frame outside it and this module.
/// For libraries built on AutoDiff whose frames would otherwise be reported as the user's line
/// (GradCheck registers itself).
public func registerLibrarySources(_ file: String = #filePath) {
    let folder = sourceFolder(of: file, levelsUp: 1)
    librarySources.withLock { _ = $0.insert(folder) }
}

/// The first frame of a backtrace that lies outside the registered libraries: the user's line.
func userCallSite(_ backtrace: Backtrace?) -> String? {
    guard let frames = backtrace?.symbolicated()?.frames else { return nil }
    let libraries = librarySources.withLock { $0 }
    for frame in frames {
        guard let location = frame.symbol?.sourceLocation else { continue }
        let path = location.path
        if libraries.contains(where: { path.hasPrefix($0) }) { continue }
        if path.hasSuffix(".swift") {
            return "\(path):\(location.line)"
        }
    }
    return nil
}
