/// The optimizers a demo can train with (`--optimizer`).
enum OptimizerChoice: String, CaseIterable, Codable, Sendable {
    case sgd, adam, adamw, rmsprop, adagrad, amsgrad

    /// The allowed spellings, for help and error messages: `sgd, adam, adamw, …`.
    static var allowedValues: String { allCases.map(\.rawValue).joined(separator: ", ") }
}
