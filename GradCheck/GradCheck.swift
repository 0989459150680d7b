import AutoDiff

/// Proves gradients against central finite differences in `Double`.
///
/// For a function `f` of tensors, the analytic gradient (from the tape) is compared with
///
///     ∂f/∂xⱼ ≈ (f(x + ε·eⱼ) − f(x − ε·eⱼ)) / 2ε
///
/// whose error is O(ε²) from truncation plus O(δ/ε) from rounding (δ ≈ 1e-16 in `Double`), so
/// with the default ε = 1e-6 an exact rule agrees to about 1e-9 while a wrong rule is off by
/// O(1). Checks run in `Double`: in `Float`, rounding alone (δ ≈ 1e-7) would swamp the
/// comparison, so `Float` inputs are promoted first.
///
/// **Error measure.** For each element, `|analytic − numeric| / max(1, |analytic|, |numeric|)`:
/// the relative error where the gradient is larger than 1 and the absolute error below, so a
/// gradient that should be 0 is not judged by a meaningless ratio of two tiny numbers. A check
/// passes when every element's error is at most `tolerance` (default 1e-6).
///
/// **Kinks.** At a point where `f` is not differentiable (relu or abs at 0, a tie in max or
/// maximum, clamp at its bounds) the central difference straddles the kink and measures the
/// average of the two one-sided slopes, which no single gradient need match. Draw inputs away
/// from kinks: ``GradCheck/input(_:seed:)`` gives values with `0.1 ≤ |x| ≤ 1`, all distinct, so no
/// element lies within ε of 0 or of another element.
public enum GradCheck {
    /// How the Jacobian is compared.
    public enum Mode: Sendable {
        /// Every entry of the Jacobian: one backward pass per output element and two evaluations
        /// of `f` per input element. For small inputs; names the worst element.
        case full
        /// `count` random projections: `⟨J·v, u⟩` by finite differences against `⟨v, Jᵀ·u⟩` from
        /// one backward pass, per input. Scales to inputs too large for the full Jacobian.
        case projections(count: Int, seed: UInt64)
    }

    /// Checks the first derivatives of `f` at `inputs` (any output shape).
    public static func check(
        _ f: ([Tensor<Double>]) -> Tensor<Double>, at inputs: [Tensor<Double>], mode: Mode = .full,
        epsilon: Double = 1e-6, tolerance: Double = 1e-6
    ) -> Report {
        _ = librarySourcesRegistered
        switch mode {
        case .full:
            return fullJacobian(f, at: inputs, epsilon: epsilon, tolerance: tolerance)
        case .projections(let count, let seed):
            return projections(f, at: inputs, count: count, seed: seed, epsilon: epsilon, tolerance: tolerance)
        }
    }

    /// Checks `f` at `Float` inputs by promoting them to `Double` (write `f` over `Double`).
    public static func check(
        _ f: ([Tensor<Double>]) -> Tensor<Double>, at inputs: [Tensor<Float>], mode: Mode = .full,
        epsilon: Double = 1e-6, tolerance: Double = 1e-6
    ) -> Report {
        check(f, at: inputs.map { Tensor<Double>(converting: $0) }, mode: mode, epsilon: epsilon, tolerance: tolerance)
    }

    /// Checks the second derivatives of `f`: the gradient of `s(x) = Σᵢ ⟨∇ᵢ⟨f(x), u⟩, wᵢ⟩` (built
    /// with `createGraph: true`, so its tape is the backward pass of `f`) against finite
    /// differences of the first derivative, for fixed random `u` and `wᵢ`. That is, Hessian-vector
    /// products `H·w` against `(∇f(x + εeⱼ) − ∇f(x − εeⱼ))/2ε`.
    public static func checkSecondOrder(
        _ f: @escaping ([Tensor<Double>]) -> Tensor<Double>, at inputs: [Tensor<Double>], seed: UInt64 = 7,
        epsilon: Double = 1e-6, tolerance: Double = 1e-6
    ) -> Report {
        _ = librarySourcesRegistered
        var generator = RandomGenerator(seed: seed)
        let probe = evaluate(f, inputs)
        let u = Tensor<Double>.randomNormal(probe.shape, generator: &generator, on: probe.device)
        let ws = inputs.map { Tensor<Double>.randomNormal($0.shape, generator: &generator, on: $0.device) }
        let firstDerivative: ([Tensor<Double>]) -> Tensor<Double> = { xs in
            let tracked = xs.map { $0.requiresGrad ? $0 : $0.requiringGrad() }
            let grads = gradients(of: f(tracked), wrt: tracked, seed: u, createGraph: true)
            return zip(grads, ws).map { ($0 * $1).sum() }.reduce(Tensor(0, on: probe.device), +)
        }
        var report = fullJacobian(firstDerivative, at: inputs, epsilon: epsilon, tolerance: tolerance)
        report.order = 2
        return report
    }

    /// A deterministic input for gradient checks, away from kinks: values with `0.1 ≤ |x| ≤ 1`
    /// and random signs, all distinct (so no ties in max/min and no zeros for relu/abs).
    public static func input(_ shape: [Int], seed: UInt64) -> Tensor<Double> {
        var generator = RandomGenerator(seed: seed)
        let n = shape.reduce(1, *)
        // Distinct magnitudes on a grid at least 0.9/n apart, shuffled, with random signs.
        let order = generator.permutation(n)
        let scalars = order.map { k -> Double in
            let magnitude = 0.1 + 0.9 * (Double(k) + 0.25 + 0.5 * generator.nextUniform()) / Double(Swift.max(n, 1))
            return generator.next() & 1 == 0 ? magnitude : -magnitude
        }
        return Tensor(shape: shape, scalars: scalars)
    }

    /// A deterministic positive input (for log, sqrt, pow with a tensor exponent): values in
    /// `[0.5, 2]`, all distinct.
    public static func positiveInput(_ shape: [Int], seed: UInt64) -> Tensor<Double> {
        input(shape, seed: seed).abs().detached() * 1.5 + 0.35
    }

    // MARK: - Implementation

    /// `f` at constant inputs. Recording stays on, so an `f` that differentiates internally
    /// (a gradient of a gradient) still works; with constant inputs nothing else is recorded.
    static func evaluate(_ f: ([Tensor<Double>]) -> Tensor<Double>, _ inputs: [Tensor<Double>]) -> Tensor<Double> {
        f(inputs.map { $0.detached() }).detached()
    }

    static func fullJacobian(
        _ f: ([Tensor<Double>]) -> Tensor<Double>, at inputs: [Tensor<Double>], epsilon: Double, tolerance: Double
    ) -> Report {
        let tracked = inputs.map { $0.requiringGrad() }
        let output = f(tracked)
        let outCount = output.count
        // Analytic Jacobian, one row per output element: J[k] = ∂y_k/∂x.
        var analytic: [[[Double]]] = Array(repeating: [], count: inputs.count)  // [input][k][j]
        if output.requiresGrad {
            for k in 0..<outCount {
                var seed = [Double](repeating: 0, count: outCount)
                seed[k] = 1
                let grads = gradients(
                    of: output, wrt: tracked, seed: Tensor(shape: output.shape, scalars: seed, on: output.device),
                    retainGraph: true)
                for (i, g) in grads.enumerated() { analytic[i].append(g.scalars) }
            }
        } else {
            for (i, x) in inputs.enumerated() {
                analytic[i] = Array(repeating: [Double](repeating: 0, count: x.count), count: outCount)
            }
        }
        var results: [InputResult] = []
        for (i, x) in inputs.enumerated() {
            var result = InputResult(input: i, shape: x.shape)
            for j in 0..<x.count {
                var plus = inputs
                var minus = inputs
                plus[i].withUnsafeMutableBufferPointer { $0[j] += epsilon }
                minus[i].withUnsafeMutableBufferPointer { $0[j] -= epsilon }
                let fp = evaluate(f, plus).scalars
                let fm = evaluate(f, minus).scalars
                for k in 0..<outCount {
                    let numeric = (fp[k] - fm[k]) / (2 * epsilon)
                    result.record(analytic: analytic[i][k][j], numeric: numeric, element: j, output: k)
                }
            }
            results.append(result)
        }
        return Report(inputs: results, tolerance: tolerance, mode: "full Jacobian")
    }

    static func projections(
        _ f: ([Tensor<Double>]) -> Tensor<Double>, at inputs: [Tensor<Double>], count: Int, seed: UInt64,
        epsilon: Double, tolerance: Double
    ) -> Report {
        var generator = RandomGenerator(seed: seed)
        var results = inputs.enumerated().map { InputResult(input: $0.offset, shape: $0.element.shape) }
        for _ in 0..<count {
            let tracked = inputs.map { $0.requiringGrad() }
            let output = f(tracked)
            let u = Tensor<Double>.randomNormal(output.shape, generator: &generator, on: output.device)
            let vjps =
                output.requiresGrad
                ? gradients(of: output, wrt: tracked, seed: u) : inputs.map { Tensor.zeros(like: $0) }
            for (i, x) in inputs.enumerated() {
                let v = Tensor<Double>.randomNormal(x.shape, generator: &generator, on: x.device)
                var plus = inputs
                var minus = inputs
                plus[i] = (x + v * epsilon).detached()
                minus[i] = (x - v * epsilon).detached()
                let numeric = ((evaluate(f, plus) - evaluate(f, minus)) * u).sum().item / (2 * epsilon)
                let analytic = (vjps[i] * v).sum().item
                results[i].record(analytic: analytic, numeric: numeric, element: nil, output: nil)
            }
        }
        return Report(inputs: results, tolerance: tolerance, mode: "\(count) random projections")
    }

    /// The comparison for one input.
    public struct InputResult: Sendable {
        /// Which input (position in the list given to the check).
        public let input: Int
        /// The input's shape.
        public let shape: [Int]
        /// The largest `|analytic − numeric|`.
        public private(set) var maxAbsoluteError = 0.0
        /// The largest error as defined in ``GradCheck``.
        public private(set) var maxRelativeError = 0.0
        /// The input element (row-major multi-index) where the error is largest (full mode).
        public private(set) var worstElement: [Int]?
        /// The output element (flat index) of the worst Jacobian entry (full mode).
        public private(set) var worstOutput: Int?
        /// The tape's value at the worst entry: a Jacobian entry (full mode) or `⟨v, Jᵀ·u⟩`
        /// (projections).
        public private(set) var worstAnalytic = 0.0
        /// The central difference at the worst entry, `(f(x + ε) − f(x − ε)) / 2ε`: a Jacobian
        /// entry (full mode) or `⟨J·v, u⟩` (projections).
        public private(set) var worstNumeric = 0.0
        private var recorded = false

        init(input: Int, shape: [Int]) {
            self.input = input
            self.shape = shape
        }

        mutating func record(analytic: Double, numeric: Double, element: Int?, output: Int?) {
            let absolute = Swift.abs(analytic - numeric)
            let relative = absolute / Swift.max(1, Swift.abs(analytic), Swift.abs(numeric))
            // A NaN on either side is a failure, never a pass.
            let error = relative.isNaN ? Double.infinity : relative
            maxAbsoluteError = Swift.max(maxAbsoluteError, absolute.isNaN ? .infinity : absolute)
            guard error > maxRelativeError || !recorded else { return }
            recorded = true
            maxRelativeError = error
            worstElement = element.map { multiIndex($0) }
            worstOutput = output
            worstAnalytic = analytic
            worstNumeric = numeric
        }

        func multiIndex(_ flat: Int) -> [Int] {
            var rest = flat
            var index = [Int](repeating: 0, count: shape.count)
            for d in stride(from: shape.count - 1, through: 0, by: -1) where shape[d] > 0 {
                index[d] = rest % shape[d]
                rest /= shape[d]
            }
            return index
        }
    }

    /// The outcome of a check: per input, the worst errors and where they occur.
    public struct Report: CustomStringConvertible, Sendable {
        /// One comparison per input, in the order given.
        public let inputs: [InputResult]
        /// The largest error that passes (``GradCheck`` defines the error).
        public let tolerance: Double
        /// How the derivatives were compared: `"full Jacobian"` or `"N random projections"`.
        public let mode: String
        /// 1 for first derivatives, 2 for ``GradCheck/checkSecondOrder(_:at:seed:epsilon:tolerance:)``.
        public internal(set) var order = 1

        /// Whether every input's error is within the tolerance.
        public var passed: Bool { inputs.allSatisfy { $0.maxRelativeError <= tolerance } }
        /// The largest error over all inputs.
        public var maxRelativeError: Double { inputs.map(\.maxRelativeError).max() ?? 0 }
        /// The inputs whose gradients disagree with finite differences.
        public var failures: [InputResult] { inputs.filter { $0.maxRelativeError > tolerance } }

        public var description: String {
            let what = order == 2 ? "second-derivative check" : "gradient check"
            var lines = ["\(what) (\(mode)): \(passed ? "passed" : "FAILED"), tolerance \(tolerance)"]
            for r in inputs {
                var line =
                    "  input \(r.input) \(r.shape): max error \(r.maxRelativeError), max |Δ| \(r.maxAbsoluteError)"
                if r.maxRelativeError > tolerance {
                    line += " ✗"
                    if let element = r.worstElement {
                        line += " at element \(element)"
                        if let output = r.worstOutput { line += " (output \(output))" }
                    }
                    line += ": analytic \(r.worstAnalytic), numeric \(r.worstNumeric)"
                }
                lines.append(line)
            }
            return lines.joined(separator: "\n")
        }
    }
}

/// GradCheck's frames are library code: anomaly reports of a checked function name the user's
/// line, not GradCheck's.
let librarySourcesRegistered: Void = registerLibrarySources()
