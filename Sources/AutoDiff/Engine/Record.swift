import Runtime

extension Tensor {
    /// Attaches a freshly computed result to the tape, if any input is tracked and recording is
    /// on. Every op funnels through here, so this is the one place that decides what is recorded
    /// and where anomaly detection looks at forward values.
    ///
    /// `makePullback` is only called when a node is created, so an op that needs no gradient
    /// allocates nothing for its rule.
    @inline(__always)
    func recorded(
        _ op: OpKind, _ a: Tensor, _ b: Tensor? = nil, savingOutput: Bool = false,
        _ makePullback: () -> Pullback<Scalar>
    ) -> Tensor {
        let state = ThreadState.current
        if _slowPath(state.anomalyDetection) { checkFinite(op, direction: "forward") }
        guard state.gradEnabled, a.node != nil || b?.node != nil else { return self }
        let inputs: [GradNode<Scalar>?] = b == nil ? [a.node] : [a.node, b!.node]
        return attach(op, inputs: inputs, savingOutput: savingOutput, anomaly: state.anomalyDetection, makePullback())
    }

    /// The n-ary form of ``recorded(_:_:_:savingOutput:_:)``.
    @inline(__always)
    func recorded(
        _ op: OpKind, _ inputs: [Tensor], savingOutput: Bool = false,
        _ makePullback: () -> Pullback<Scalar>
    ) -> Tensor {
        let state = ThreadState.current
        if _slowPath(state.anomalyDetection) { checkFinite(op, direction: "forward") }
        guard state.gradEnabled, inputs.contains(where: { $0.node != nil }) else { return self }
        return attach(
            op, inputs: inputs.map(\.node), savingOutput: savingOutput,
            anomaly: state.anomalyDetection, makePullback())
    }

    private func attach(
        _ op: OpKind, inputs: [GradNode<Scalar>?], savingOutput: Bool, anomaly: Bool,
        _ pullback: Pullback<Scalar>
    ) -> Tensor {
        let node = GradNode<Scalar>(op: op, shape: shape, inputs: inputs, pullback: pullback)
        if savingOutput { node.savedOutput = storage }
        if _slowPath(anomaly) { node.callSite = try? Backtrace.capture() }
        return Tensor(shape: shape, storage: storage, node: node)
    }

    /// Anomaly mode: stop at the first non-finite value, naming the op and the user's call site.
    func checkFinite(_ op: OpKind, direction: String, callSite: Backtrace? = nil) {
        let p = storage.base
        for i in 0..<count where !p[i].isFinite {
            let site = userCallSite(callSite ?? (try? Backtrace.capture()))
            tensorFailure(
                "anomaly: \(op.rawValue) produced \(p[i]) in its \(direction) pass (element \(i) of shape \(shape))\(site.map { ", called at \($0)" } ?? "")"
            )
        }
    }
}

/// The first frame of a backtrace that lies outside this library: the user's line.
func userCallSite(_ backtrace: Backtrace?) -> String? {
    guard let frames = backtrace?.symbolicated()?.frames else { return nil }
    for frame in frames {
        guard let location = frame.symbol?.sourceLocation else { continue }
        let path = location.path
        if path.contains("/Sources/AutoDiff/") || path.contains("/GradCheck/") { continue }
        if path.hasPrefix("/") && !path.contains("/swift/") || path.hasSuffix(".swift") {
            return "\(path):\(location.line)"
        }
    }
    return nil
}
