import AutoDiff
import GradCheck

/// `demos handwritten`: diagnose a hand-written backward pass, follow the diagnosis, and train the
/// network three ways — the gradients as written, as fixed, and from the tape.
enum HandwrittenDemo {
    /// The training accuracy the runs are timed to.
    static let targetAccuracy = 0.95
    /// The `--case` values, in the order the demo runs them.
    static let caseNames = ["moons", "bias-sum", "sigmoid-derivative"]

    static func makeCase(_ name: String, seed: UInt64) -> (any HandwrittenCase)? {
        switch name {
        case "moons": MoonsCase(seed: seed)
        case "bias-sum": BiasSumCase(seed: seed)
        case "sigmoid-derivative": SigmoidDerivativeCase(seed: seed)
        default: nil
        }
    }

    /// Where the three ways of training get their gradients.
    enum GradientSource {
        case handWritten(HandwrittenFixes)
        case autodiff
    }

    /// Diagnoses `handwrittenCase` at its initial parameters on its first batch; then, while a
    /// tensor differs, applies the fix its finding names to the first wrong one and diagnoses
    /// again (everything after the first wrong tensor inherits its error, so one at a time).
    static func diagnoseAndFix(_ handwrittenCase: any HandwrittenCase) -> (
        initial: GradCheck.Diagnosis, fixes: HandwrittenFixes, final: GradCheck.Diagnosis
    ) {
        let batch = min(handwrittenCase.batchSize, handwrittenCase.features.shape[0])
        let x = handwrittenCase.features.slice(alongAxis: 0, 0..<batch)
        let y = handwrittenCase.targets.slice(alongAxis: 0, 0..<batch)
        let parameters = handwrittenCase.initialParameters
        let initial = handwrittenCase.diagnose(parameters: parameters, x: x, y: y, fixes: HandwrittenFixes())
        var fixes = HandwrittenFixes()
        var diagnosis = initial
        // Each round fixes one tensor; a fix that changes nothing ends the loop.
        for _ in 0..<parameters.count * 4 {
            guard let first = diagnosis.firstWrongFinding else { break }
            var next = fixes
            guard next.apply(first, batchSize: diagnosis.batchSize) else { break }
            let rediagnosed = handwrittenCase.diagnose(parameters: parameters, x: x, y: y, fixes: next)
            if rediagnosed.firstWrongFinding == first { break }
            fixes = next
            diagnosis = rediagnosed
        }
        return (initial, fixes, diagnosis)
    }

    /// Plain minibatch gradient descent for `epochs`, the batches in one seeded order shared by
    /// all three ways; loss and accuracy on the whole training set after every epoch.
    static func train(
        _ handwrittenCase: any HandwrittenCase, gradients source: GradientSource, epochs: Int, seed: UInt64
    ) -> TrainingRun {
        let x = handwrittenCase.features
        let y = handwrittenCase.targets
        let n = x.shape[0]
        let batchSize = min(handwrittenCase.batchSize, n)
        let lr = handwrittenCase.learningRate
        var parameters = handwrittenCase.initialParameters
        var generator = RandomGenerator(seed: seed &+ 2)
        var run = TrainingRun()
        for epoch in 1...epochs {
            let order = batchSize < n ? generator.permutation(n) : Array(0..<n)
            for start in stride(from: 0, to: n, by: batchSize) {
                let indices = Array(order[start..<min(start + batchSize, n)])
                let xb = batchSize < n ? x.indexSelect(alongAxis: 0, indices: indices) : x
                let yb = batchSize < n ? y.indexSelect(alongAxis: 0, indices: indices) : y
                let grads = gradients(of: handwrittenCase, source, parameters: parameters, x: xb, y: yb)
                parameters = parameters.map { ($0.name, ($0.value - grads[$0.name]! * lr).detached()) }
            }
            let cache = ForwardCache(
                parameters: Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.value) }))
            let loss = handwrittenCase.loss(cache, x: x, y: y).item
            let accuracy = handwrittenCase.accuracy(output: cache[handwrittenCase.outputName], targets: y)
            run.record(epoch: epoch, loss: loss, accuracy: accuracy, target: targetAccuracy)
        }
        return run
    }

    static func gradients(
        of handwrittenCase: any HandwrittenCase, _ source: GradientSource,
        parameters: [(name: String, value: Tensor<Double>)], x: Tensor<Double>, y: Tensor<Double>
    ) -> [String: Tensor<Double>] {
        switch source {
        case .handWritten(let fixes):
            let cache = ForwardCache(
                parameters: Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.value) }))
            _ = handwrittenCase.loss(cache, x: x, y: y)
            return handwrittenCase.backward(cache, x: x, y: y, fixes: fixes)
        case .autodiff:
            let tracked = parameters.map { ($0.name, $0.value.requiringGrad()) }
            let loss = handwrittenCase.loss(
                ForwardCache(parameters: Dictionary(uniqueKeysWithValues: tracked)), x: x, y: y)
            let grads = AutoDiff.gradients(of: loss, wrt: tracked.map(\.1))
            return Dictionary(uniqueKeysWithValues: zip(tracked.map(\.0), grads))
        }
    }
}

/// Loss and accuracy per epoch of one way of training, and when it first reached the target.
struct TrainingRun {
    var losses: [Double] = []
    var accuracies: [Double] = []
    var epochsToTarget: Int?

    mutating func record(epoch: Int, loss: Double, accuracy: Double, target: Double) {
        losses.append(loss)
        accuracies.append(accuracy)
        if epochsToTarget == nil, accuracy >= target { epochsToTarget = epoch }
    }
}
