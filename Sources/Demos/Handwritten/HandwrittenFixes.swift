import AutoDiff
import Foundation
import GradCheck

/// The corrections a diagnosis points to, applied where a hand-written backward computes each
/// gradient. Empty, the backward runs as its author wrote it.
///
/// Each case's backward asks at the line a finding names: ``scaled(_:_:)`` after computing a
/// gradient, ``biasGradient(_:_:asWritten:)`` for a bias, ``derivative(_:asWritten:right:)`` for an
/// activation's derivative. ``apply(_:)`` turns one finding into one correction.
struct HandwrittenFixes: Sendable, Equatable {
    /// A factor the named gradient is multiplied by once computed (`1/c` for a found factor `c`).
    var scales: [String: Double] = [:]
    /// Bias gradients summed over the batch axis only, instead of as written.
    var batchAxisSums: Set<String> = []
    /// Pre-activations whose activation derivative is taken at the right tensor.
    var rightDerivatives: Set<String> = []
    /// What was changed, in words, in the order applied.
    var log: [String] = []

    /// The correction `finding` calls for, or `false` when its relation has no mechanical fix here
    /// (a transpose, a missing term, zeros, an unexplained difference).
    mutating func apply(_ finding: GradCheck.TensorFinding, batchSize: Int?) -> Bool {
        let relation = finding.relation
        let name = finding.name
        var changes: [String] = []
        switch relation.kind {
        case .factor, .signFlip:
            break
        case .sumOverAxes:
            batchAxisSums.insert(name)
            changes.append("sum over the batch axis only")
        case .wrongDerivative:
            rightDerivatives.insert(name)
            changes.append("take the activation's derivative at the right tensor")
        case .match, .transpose, .missingTerm, .zeros, .unexplained:
            return false
        }
        if let c = relation.factor {
            scales[name, default: 1] /= c
            let found = GradCheck.factorName(c, batchPower: relation.batchPower, batchSize: batchSize)
            changes.append("multiply by \(String(format: "%.3g", 1 / c)) (it was \(found) × the tape's)")
        }
        log.append("\(name): " + changes.joined(separator: ", and "))
        return true
    }

    /// `gradient`, times the correction found for `name` (if any).
    func scaled(_ name: String, _ gradient: Tensor<Double>) -> Tensor<Double> {
        guard let scale = scales[name] else { return gradient }
        return gradient * scale
    }

    /// The bias gradient from the pre-activation's `dz`: as written, unless corrected to the sum
    /// over the batch axis.
    func biasGradient(_ name: String, _ dz: Tensor<Double>, asWritten: (Tensor<Double>) -> Tensor<Double>)
        -> Tensor<Double>
    {
        scaled(name, batchAxisSums.contains(name) ? dz.sum(alongAxis: 0) : asWritten(dz))
    }

    /// The activation derivative used for the pre-activation `name`: as written, unless corrected.
    func derivative(_ name: String, asWritten: Tensor<Double>, right: @autoclosure () -> Tensor<Double>)
        -> Tensor<Double>
    {
        rightDerivatives.contains(name) ? right() : asWritten
    }
}
