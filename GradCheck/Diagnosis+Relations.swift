import AutoDiff
import Foundation

extension GradCheck {
    /// The hypotheses `h ≈ c·T(t)` tried for each hand-written gradient, simplest first.
    struct RelationSearch {
        let recorder: Recorder
        let tapeGradients: [String: Tensor<Double>]
        let termGradients: [(name: String, gradients: [String: Tensor<Double>])]
        let batchSize: Int?
        let relationTolerance: Double

        /// One candidate transformation of the tape's gradient, compared with `h` flattened.
        struct Candidate {
            var kind: Relation.Kind
            var transformed: [Double]
            var explanation: String
            var axes: [Int]? = nil
            var activation: Activation? = nil
            var evaluatedAt: String? = nil
            var term: String? = nil
        }

        func finding(name: String, handWritten: Tensor<Double>, tolerance: Double) -> TensorFinding {
            let t = tapeGradients[name]!
            let h = handWritten.scalars
            let error = relativeError(h, handWrittenShape: handWritten.shape, t)
            var finding = TensorFinding(
                name: name, shape: t.shape, handWrittenShape: handWritten.shape, relativeError: error,
                relation: Relation(kind: .unexplained, explanation: "unexplained difference"))
            let tNorm = norm(t.scalars)
            if let error, error <= tolerance {
                finding.relation = Relation(kind: .match, explanation: "no difference")
            } else if norm(h) == 0, tNorm > 0 {
                finding.relation = Relation(
                    kind: .zeros, explanation: "all zeros where the tape has a gradient (‖t‖ = \(format(tNorm)))")
            } else if let relation = explain(h, handWrittenShape: handWritten.shape, name: name, t: t) {
                finding.relation = relation
            }
            return finding
        }

        /// `‖h − t‖ / ‖t‖`, with a single-number `h` broadcast; shapes that differ other than by
        /// axes of size 1 (`[3]` and `[1, 3]`) are not compared.
        func relativeError(_ h: [Double], handWrittenShape: [Int], _ t: Tensor<Double>) -> Double? {
            let ts = t.scalars
            let hs: [Double]
            if handWrittenShape.filter({ $0 != 1 }) == t.shape.filter({ $0 != 1 }) {
                hs = h
            } else if h.count == 1 {
                hs = Array(repeating: h[0], count: ts.count)
            } else {
                return nil
            }
            let difference = norm(zip(hs, ts).map { $0 - $1 })
            let scale = norm(ts)
            return scale > 0 ? difference / scale : difference
        }

        /// The first candidate that explains `h`, with its least-squares factor.
        func explain(_ h: [Double], handWrittenShape: [Int], name: String, t: Tensor<Double>) -> Relation? {
            let hNorm = norm(h)
            guard hNorm > 0 else { return nil }
            for candidate in candidates(name: name, t: t, count: h.count, handWrittenShape: handWrittenShape) {
                let tt = dot(candidate.transformed, candidate.transformed)
                guard tt > 0 else { continue }
                let c = dot(h, candidate.transformed) / tt
                let residual = norm(zip(h, candidate.transformed).map { $0 - c * $1 }) / hNorm
                guard residual <= relationTolerance else { continue }
                let isOne = Swift.abs(c - 1) <= relationTolerance
                if candidate.kind == .factor && isOne { continue }  // a tiny difference: unexplained
                // One number is a multiple of any other: only a named factor (1, −1, ±Nᵏ) explains it.
                let named = isOne || Swift.abs(c + 1) <= relationTolerance || batchPower(of: c) != nil
                if h.count == 1 && !named { continue }
                return relation(for: candidate, factor: c, isOne: isOne, residual: residual)
            }
            return nil
        }

        func relation(for candidate: Candidate, factor c: Double, isOne: Bool, residual: Double) -> Relation {
            let power = batchPower(of: c)
            var kind = candidate.kind
            var explanation = candidate.explanation
            if kind == .factor {
                if Swift.abs(c + 1) <= relationTolerance {
                    kind = .signFlip
                    explanation = "sign flipped (h = −t)"
                } else {
                    let named = factorName(c, batchPower: power, batchSize: batchSize)
                    explanation = "a constant factor: h = \(named) × the tape's gradient"
                }
            }
            return Relation(
                kind: kind, factor: isOne ? nil : c, batchPower: isOne ? nil : power, axes: candidate.axes,
                activation: candidate.activation, evaluatedAt: candidate.evaluatedAt, term: candidate.term,
                explanation: explanation, residual: residual)
        }

        /// `k` with `|c| = Nᵏ` (|k| ≤ 3) within the relation tolerance.
        func batchPower(of c: Double) -> Int? {
            guard let n = batchSize, n > 1 else { return nil }
            for k in [1, -1, 2, -2, 3, -3] {
                let target = Foundation.pow(Double(n), Double(k))
                if Swift.abs(Swift.abs(c) / target - 1) <= relationTolerance { return k }
            }
            return nil
        }

        /// Every hypothesis for `name` whose transformed tape gradient has `count` elements.
        func candidates(name: String, t: Tensor<Double>, count: Int, handWrittenShape: [Int]) -> [Candidate] {
            var list: [Candidate] = []
            if count == t.count {
                list.append(Candidate(kind: .factor, transformed: t.scalars, explanation: ""))
            }
            if t.rank == 2, count == t.count, handWrittenShape == [t.shape[1], t.shape[0]] {
                list.append(
                    Candidate(
                        kind: .transpose, transformed: t.transposed().scalars,
                        explanation: "transposed: h has shape \(handWrittenShape), tᵀ of \(t.shape)"))
            }
            if count < t.count {
                list += sums(of: t, count: count)
            }
            if count == t.count {
                list += wrongDerivatives(name: name)
                list += missingTerms(name: name, t: t)
            }
            return list
        }

        /// `Σ_axes t` for every set of axes leaving `count` elements; every axis first.
        func sums(of t: Tensor<Double>, count: Int) -> [Candidate] {
            var list: [Candidate] = []
            let rank = t.rank
            // Larger sets first: all axes (a single number) is the commonest mistake.
            let subsets = (1..<(1 << rank)).map { mask in (0..<rank).filter { mask & (1 << $0) != 0 } }
                .sorted { $0.count > $1.count }
            for axes in subsets {
                let kept = (0..<rank).filter { !axes.contains($0) }.map { t.shape[$0] }.reduce(1, *)
                guard kept == count else { continue }
                let every = axes.count == rank
                let explanation =
                    every
                    ? "summed over every axis into one scalar (\(t.shape) expected)"
                    : "summed over axes \(axes) of \(t.shape) that should be kept"
                list.append(
                    Candidate(
                        kind: .sumOverAxes, transformed: t.sum(alongAxes: axes).scalars, explanation: explanation,
                        axes: axes))
            }
            return list
        }

        /// For a pre-activation `z` with `a = act(z)`: `∂loss/∂a ⊙ d` for derivatives `d` evaluated
        /// at the wrong tensor or in the wrong form. Candidates equal to the right derivative
        /// (relu′ is the same at `z` and at `a`) are left out.
        func wrongDerivatives(name: String) -> [Candidate] {
            guard let (activation, outputName) = recorder.activations[name],
                let z = recorder.recorded[name], let a = recorder.recorded[outputName],
                let upstream = tapeGradients[outputName]
            else { return [] }
            let right = activation.derivative(atInput: z).scalars
            let act = activation.derivativeName
            var forms: [(d: Tensor<Double>, at: String, explanation: String)] = [
                (
                    activation.derivative(fromOutput: z), name,
                    "\(act) in its output form \(activation.outputForm) evaluated at the pre-activation \(name) instead of the activation \(outputName)"
                ),
                (
                    activation.derivative(atInput: a), outputName,
                    "\(act) evaluated at the activation \(outputName) instead of the pre-activation \(name)"
                ),
            ]
            for other in recorder.order where other != name && other != outputName {
                guard let w = recorder.recorded[other], w.shape == z.shape else { continue }
                forms.append(
                    (activation.derivative(atInput: w), other, "\(act) evaluated at \(other) instead of \(name)"))
                forms.append(
                    (
                        activation.derivative(fromOutput: w), other,
                        "\(act) in its output form \(activation.outputForm) evaluated at \(other) instead of \(outputName)"
                    ))
            }
            forms.append(
                (a, outputName, "the activation \(outputName) used in place of its derivative \(act)(\(name))"))
            forms.append((Tensor.ones(like: z), "", "the activation derivative \(act)(\(name)) left out"))
            return forms.compactMap { form in
                let d = form.d.scalars
                guard distance(d, right) > 1e-9 * Swift.max(norm(right), 1) else { return nil }
                return Candidate(
                    kind: .wrongDerivative, transformed: (upstream * form.d).scalars, explanation: form.explanation,
                    activation: activation, evaluatedAt: form.at.isEmpty ? nil : form.at)
            }
        }

        /// `t − ∂term/∂name` for each recorded term the tensor's gradient depends on.
        func missingTerms(name: String, t: Tensor<Double>) -> [Candidate] {
            termGradients.compactMap { term in
                guard let g = term.gradients[name], norm(g.scalars) > 0 else { return nil }
                return Candidate(
                    kind: .missingTerm, transformed: (t - g).scalars,
                    explanation: "the contribution of the loss term '\(term.name)' is missing", term: term.name)
            }
        }
    }

    static func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
    static func norm(_ a: [Double]) -> Double { dot(a, a).squareRoot() }
    static func distance(_ a: [Double], _ b: [Double]) -> Double { norm(zip(a, b).map { $0 - $1 }) }
}
