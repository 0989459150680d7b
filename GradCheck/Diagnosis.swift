import AutoDiff
import Foundation

extension GradCheck {
    /// Compares hand-written gradients with the tape's and says, per tensor, how they differ.
    ///
    /// `f` computes a scalar loss from the named `inputs` (read them as `r["W1"]`) and may record
    /// named intermediates (`r.record("z1", z)`, `r.activate("z1", z, .relu, as: "a1")`) and
    /// named loss terms (`r.term("l2", penalty)`). For every name in `handWritten`, the tape's
    /// gradient `t = ∂loss/∂name` is computed with AutoDiff's `gradients(of:wrt:seed:retainGraph:createGraph:)`
    /// and compared with the hand-written `h`:
    ///
    /// - **relative error** `‖h − t‖ / ‖t‖` (Frobenius norms; `‖h‖` when `t = 0`; `h` broadcast to
    ///   `t`'s shape first when it is a single number, as NumPy would apply it);
    /// - **relation**: when `h ≠ t`, each hypothesis `h ≈ c·T(t)` is tried with the least-squares
    ///   factor `c = ⟨h, T⟩ / ⟨T, T⟩` and accepted when the residual `‖h − c·T‖ / ‖h‖` is at most
    ///   `relationTolerance`. In order: zeros (`h = 0`, `t ≠ 0`); a constant factor (`T = t`; a
    ///   sign flip when `c = −1`; named `N`, `1/N`, `N²`, … when `|c| = Nᵏ`); a transpose
    ///   (`T = tᵀ`); a sum over the wrong axes (`T = Σ_axes t`, e.g. a bias gradient summed into
    ///   one scalar); an activation derivative at the wrong tensor (for `z` declared with
    ///   ``Recorder/activate(_:_:_:as:)``: `T = ∂loss/∂a ⊙ d` with `d` ≠ `act′(z)`, such as the
    ///   output form `z·(1 − z)` on the pre-activation, `σ′(a)`, `act′` at another recorded tensor,
    ///   the activation itself, or no derivative at all); a missing term (`T = t − ∂term/∂name` for
    ///   a term recorded with ``Recorder/term(_:_:)``). The first accepted hypothesis is reported,
    ///   with its factor when `c ≠ 1`; when none is, only the relative error. A single number is a
    ///   multiple of any other, so for one-element `h` only `c` = 1, −1 or ±Nᵏ counts.
    ///
    /// The batch size `N` names factors; without `batchSize` it is the leading dimension shared by
    /// every recorded intermediate of rank ≥ 2 (none when they disagree or none is recorded).
    ///
    /// Tensors are listed in backward order: the reverse of the order their names first appeared
    /// in `f`. ``Diagnosis/firstWrong`` is the first that differs: every tensor after it in
    /// backward order is computed from it and inherits its error, so fix it first.
    ///
    /// - Parameters:
    ///   - f: the loss, written with the recorder's inputs and recorded intermediates.
    ///   - inputs: the named parameters (or data) the loss is differentiated with respect to.
    ///   - handWritten: the hand-written gradients to check, by input or recorded name.
    ///   - batchSize: the `N` that factors are named by (inferred when `nil`, see above).
    ///   - tolerance: the largest relative error that counts as no difference.
    ///   - relationTolerance: the largest residual with which a relation explains a difference.
    public static func diagnose(
        _ f: (Recorder) -> Tensor<Double>, at inputs: [(name: String, value: Tensor<Double>)],
        handWritten: [String: Tensor<Double>], batchSize: Int? = nil, tolerance: Double = 1e-6,
        relationTolerance: Double = 1e-4
    ) -> Diagnosis {
        _ = librarySourcesRegistered
        let recorder = Recorder(
            inputs: Dictionary(inputs.map { ($0.name, $0.value.detached().requiringGrad()) }) { first, _ in first })
        let loss = f(recorder)
        guard loss.count == 1 else { fatalError("GradCheck.diagnose: the loss has shape \(loss.shape), not a scalar") }
        for name in handWritten.keys where recorder.tensor(named: name) == nil {
            fatalError("GradCheck.diagnose: '\(name)' is neither an input nor a recorded tensor")
        }
        let names = recorder.order.reversed().filter { recorder.recorded[$0] != nil || recorder.inputs[$0] != nil }
        let tensors = names.map { recorder.tensor(named: $0)! }
        let retain = !recorder.terms.isEmpty
        let tape =
            loss.requiresGrad
            ? gradients(of: loss, wrt: tensors, retainGraph: retain) : tensors.map(Tensor.zeros(like:))
        let tapeGradients = Dictionary(uniqueKeysWithValues: zip(names, tape))
        let termGradients = recorder.terms.map { term in
            (
                name: term.name,
                gradients: Dictionary(
                    uniqueKeysWithValues: zip(names, gradients(of: term.value, wrt: tensors, retainGraph: true)))
            )
        }
        let n = batchSize ?? inferredBatchSize(recorder)
        let context = RelationSearch(
            recorder: recorder, tapeGradients: tapeGradients, termGradients: termGradients, batchSize: n,
            relationTolerance: relationTolerance)
        let findings = names.filter { handWritten[$0] != nil }.map { name in
            context.finding(name: name, handWritten: handWritten[name]!, tolerance: tolerance)
        }
        return Diagnosis(batchSize: n, tolerance: tolerance, tensors: findings)
    }

    /// ``diagnose(_:at:handWritten:batchSize:tolerance:relationTolerance:)-(_,_,[String:Tensor<Double>],_,_,_)`` for `Float` inputs and
    /// gradients, promoted to `Double` (write `f` over `Double`).
    public static func diagnose(
        _ f: (Recorder) -> Tensor<Double>, at inputs: [(name: String, value: Tensor<Float>)],
        handWritten: [String: Tensor<Float>], batchSize: Int? = nil, tolerance: Double = 1e-5,
        relationTolerance: Double = 1e-4
    ) -> Diagnosis {
        diagnose(
            f, at: inputs.map { ($0.name, Tensor<Double>(converting: $0.value)) },
            handWritten: handWritten.mapValues { Tensor<Double>(converting: $0) }, batchSize: batchSize,
            tolerance: tolerance, relationTolerance: relationTolerance)
    }

    static func inferredBatchSize(_ recorder: Recorder) -> Int? {
        let leading = Set(recorder.recorded.values.filter { $0.rank >= 2 }.map { $0.shape[0] })
        return leading.count == 1 ? leading.first : nil
    }

    /// What ``GradCheck/diagnose(_:at:handWritten:batchSize:tolerance:relationTolerance:)-(_,_,[String:Tensor<Double>],_,_,_)`` found: one
    /// ``TensorFinding`` per hand-written gradient, in backward order.
    public struct Diagnosis: Codable, Sendable, Equatable, CustomStringConvertible {
        /// The batch size `N` that factors are named by, when known.
        public var batchSize: Int?
        /// The largest relative error that counts as no difference.
        public var tolerance: Double
        /// One finding per hand-written gradient, loss side first.
        public var tensors: [TensorFinding]
        /// The name of the first tensor in backward order whose gradient differs, if any.
        public var firstWrong: String?

        /// A diagnosis of `tensors`; ``firstWrong`` is the first of them that does not match.
        public init(batchSize: Int?, tolerance: Double, tensors: [TensorFinding]) {
            self.batchSize = batchSize
            self.tolerance = tolerance
            self.tensors = tensors
            self.firstWrong = tensors.first { !$0.matches }?.name
        }

        /// Whether every hand-written gradient agrees with the tape's.
        public var isClean: Bool { firstWrong == nil }

        /// The finding for `name`.
        public subscript(_ name: String) -> TensorFinding? { tensors.first { $0.name == name } }

        /// The finding that leads: the first wrong tensor in backward order.
        public var firstWrongFinding: TensorFinding? { firstWrong.flatMap { self[$0] } }

        /// ```
        /// first wrong tensor in backward order: b2 — summed over every axis into one scalar, times N
        ///   z2   [200, 2]  relative error 0         no difference
        ///   b2   [2]       relative error 1.41      summed over every axis into one scalar, times N (c = 200)
        /// ```
        public var description: String {
            var lines: [String]
            if let first = firstWrongFinding {
                lines = [
                    "first wrong tensor in backward order: \(first.name) — \(first.relation.summary(batchSize: batchSize))"
                ]
            } else {
                lines = [
                    "no difference: every hand-written gradient matches the tape's (tolerance \(format(tolerance)))"
                ]
            }
            let nameWidth = tensors.map(\.name.count).max() ?? 0
            let shapeWidth = tensors.map { "\($0.shape)".count }.max() ?? 0
            var passedFirstWrong = false
            for finding in tensors {
                let error = finding.relativeError.map(format) ?? "—"
                var shape = "\(finding.shape)"
                if finding.handWrittenShape != finding.shape { shape += " (hand-written \(finding.handWrittenShape))" }
                var relation = finding.relation.summary(batchSize: batchSize)
                if let first = firstWrong, finding.relation.kind == .unexplained, passedFirstWrong {
                    relation += " (after \(first): may only inherit its error)"
                }
                if finding.name == firstWrong { passedFirstWrong = true }
                lines.append(
                    "  " + pad(finding.name, nameWidth) + "  " + pad(shape, shapeWidth) + "  relative error "
                        + pad(error, 9) + "  " + relation)
            }
            return lines.joined(separator: "\n")
        }

        private func pad(_ text: String, _ width: Int) -> String {
            text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
        }
    }

    /// One hand-written gradient against the tape's.
    public struct TensorFinding: Codable, Sendable, Equatable {
        /// The input or recorded intermediate the gradient belongs to.
        public var name: String
        /// The shape of the tape's gradient (the tensor's own shape).
        public var shape: [Int]
        /// The shape of the hand-written gradient (it differs from ``shape`` for a transpose or a
        /// sum over the wrong axes).
        public var handWrittenShape: [Int]
        /// `‖h − t‖ / ‖t‖`; `nil` when the shapes cannot be compared.
        public var relativeError: Double?
        /// How the hand-written gradient relates to the tape's.
        public var relation: Relation

        /// Whether the hand-written gradient agrees with the tape's.
        public var matches: Bool { relation.kind == .match }
    }

    /// How a hand-written gradient `h` relates to the tape's `t`: `h ≈ factor · T(t)`.
    public struct Relation: Codable, Sendable, Equatable {
        /// Which hypothesis `h ≈ c·T(t)` explains the difference, tried in the order listed.
        public enum Kind: String, Codable, Sendable {
            /// No difference within the tolerance.
            case match
            /// `h = c·t`.
            case factor
            /// `h = −t`.
            case signFlip
            /// `h = c·tᵀ`.
            case transpose
            /// `h = c·Σ_axes t`: summed over axes that should have been kept.
            case sumOverAxes
            /// `h = c·∂loss/∂a ⊙ d` with `d` not the activation's derivative at the pre-activation.
            case wrongDerivative
            /// `h = c·(t − ∂term/∂name)`: one recorded term of the loss left out.
            case missingTerm
            /// `h = 0` where `t ≠ 0`.
            case zeros
            /// A difference no hypothesis explains; see the relative error.
            case unexplained
        }

        /// The relation found.
        public var kind: Kind
        /// `c`, when it is not 1.
        public var factor: Double?
        /// `k` when `|c| = Nᵏ` for the batch size `N`.
        public var batchPower: Int?
        /// ``Kind/sumOverAxes``: the axes of `t` that `h` was summed over.
        public var axes: [Int]?
        /// ``Kind/wrongDerivative``: the activation, and the tensor and form the derivative was
        /// evaluated with (`"z1"` with form `"output form"`: `z1·(1−z1)` for a sigmoid).
        public var activation: Activation?
        /// ``Kind/wrongDerivative``: the recorded tensor the derivative was evaluated at (`nil`
        /// when no derivative was applied at all).
        public var evaluatedAt: String?
        /// ``Kind/missingTerm``: the term left out.
        public var term: String?
        /// What the relation means, in words.
        public var explanation: String
        /// `‖h − c·T(t)‖ / ‖h‖`.
        public var residual: Double?

        init(
            kind: Kind, factor: Double? = nil, batchPower: Int? = nil, axes: [Int]? = nil,
            activation: Activation? = nil, evaluatedAt: String? = nil, term: String? = nil,
            explanation: String, residual: Double? = nil
        ) {
            self.kind = kind
            self.factor = factor
            self.batchPower = batchPower
            self.axes = axes
            self.activation = activation
            self.evaluatedAt = evaluatedAt
            self.term = term
            self.explanation = explanation
            self.residual = residual
        }

        /// The explanation with the factor: `… times 1/N (c = 0.1)`.
        public func summary(batchSize: Int?) -> String {
            guard let factor, kind != .factor, kind != .signFlip else { return explanation }
            return explanation + ", times " + factorName(factor, batchPower: batchPower, batchSize: batchSize)
        }
    }

    /// A factor `c` in words: `1/N (c = 0.1, N = 10)` or `−N² (c = −400, N = 20)` when
    /// `|c| = N^batchPower`, otherwise the number alone (three significant digits).
    public static func factorName(_ c: Double, batchPower: Int?, batchSize: Int?) -> String {
        guard let k = batchPower, let n = batchSize else { return format(c) }
        let sign = c < 0 ? "−" : ""
        let power = ["", "", "²", "³"][Swift.abs(k)]
        let name = k > 0 ? "\(sign)N\(power)" : "\(sign)1/N\(power)"
        return "\(name) (c = \(format(c)), N = \(n))"
    }

    /// Three significant digits, no exponent for ordinary magnitudes.
    static func format(_ x: Double) -> String {
        guard x.isFinite else { return x.isNaN ? "nan" : (x > 0 ? "inf" : "-inf") }
        if x == 0 { return "0" }
        return String(format: "%.3g", x)
    }
}
