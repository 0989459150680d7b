/// Errors from reading and writing files (IDX, safetensors, checkpoints) and restoring state:
/// each a one-line message naming the file (when there is one) and the problem.
public enum NNError: Error, CustomStringConvertible, Equatable, Sendable {
    /// An IDX file is malformed.
    case idx(file: String, problem: String)
    /// A safetensors file is malformed or cannot be written.
    case safetensors(file: String, problem: String)
    /// A safetensors file does not match the model: names the missing, extra and mis-shaped tensors.
    case parameterMismatch(file: String, problem: String)
    /// A checkpoint is malformed or does not fit the model or optimizer.
    case checkpoint(file: String, problem: String)
    /// Optimizer state does not fit the optimizer.
    case optimizerState(String)
    /// A dataset operation got inconsistent inputs.
    case dataset(String)

    public var description: String {
        switch self {
        case .idx(let file, let problem): "IDX file \(file): \(problem)"
        case .safetensors(let file, let problem): "safetensors file \(file): \(problem)"
        case .parameterMismatch(let file, let problem): "safetensors file \(file) does not match the model: \(problem)"
        case .checkpoint(let file, let problem): "checkpoint \(file): \(problem)"
        case .optimizerState(let problem): "optimizer state: \(problem)"
        case .dataset(let problem): "dataset: \(problem)"
        }
    }
}

#if canImport(Foundation)
import Foundation
extension NNError: LocalizedError {
    public var errorDescription: String? { description }
}
#endif
