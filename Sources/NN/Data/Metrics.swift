import AutoDiff

/// The fraction of samples whose thresholded output matches a binary target: `[N]` or `[N, k]`
/// outputs against targets of the same count (0/1). Outputs are probabilities by default
/// (`threshold = 0.5`); for logits pass `threshold: 0`. With several outputs per sample every
/// output is counted (the book's `np.mean(predictions == y)`).
public func binaryAccuracy<Scalar>(outputs: Tensor<Scalar>, targets: Tensor<Scalar>, threshold: Scalar = 0.5) -> Double
{
    guard outputs.count == targets.count, outputs.count > 0 else {
        tensorFailure(
            "binaryAccuracy: outputs of shape \(outputs.shape) and targets of shape \(targets.shape) differ in count")
    }
    let o = outputs.scalars
    let t = targets.scalars
    var correct = 0
    for i in o.indices where (o[i] > threshold ? 1 : 0) == (t[i] > 0.5 ? 1 : 0) { correct += 1 }
    return Double(correct) / Double(o.count)
}

/// The fraction of rows of `scores` `[N, C]` (logits or probabilities) whose argmax equals the
/// label.
public func categoricalAccuracy<Scalar>(scores: Tensor<Scalar>, labels: [Int]) -> Double {
    guard scores.rank == 2, scores.shape[0] == labels.count, !labels.isEmpty else {
        tensorFailure("categoricalAccuracy: scores of shape \(scores.shape) for \(labels.count) labels")
    }
    let predicted = scores.argmax(alongAxis: 1).scalars
    return Double(zip(predicted, labels).filter { $0 == $1 }.count) / Double(labels.count)
}

/// ``categoricalAccuracy(scores:labels:)`` with labels as class indices `[N]` or one-hot `[N, C]`.
public func categoricalAccuracy<Scalar>(scores: Tensor<Scalar>, labels: Tensor<Scalar>) -> Double {
    let indices = labels.rank == 2 && labels.shape[1] > 1 ? labels.argmax(alongAxis: 1).scalars : classIndices(labels)
    return categoricalAccuracy(scores: scores, labels: indices)
}

/// Counts of (actual, predicted) class pairs: `counts[actual][predicted]`.
public struct ConfusionMatrix: Equatable, CustomStringConvertible, Sendable {
    /// The number of classes `C`; ``counts`` is `C × C`.
    public let classes: Int
    /// `counts[actual][predicted]`: how many examples of class `actual` were predicted as
    /// `predicted`.
    public private(set) var counts: [[Int]]

    /// Counts the pairs `(actual[i], predicted[i])`; both lists must be equally long and hold
    /// classes in `0..<classes`.
    public init(actual: [Int], predicted: [Int], classes: Int) {
        guard actual.count == predicted.count else {
            tensorFailure("ConfusionMatrix: \(actual.count) actual labels but \(predicted.count) predictions")
        }
        self.classes = classes
        counts = Array(repeating: Array(repeating: 0, count: classes), count: classes)
        for (a, p) in zip(actual, predicted) {
            guard (0..<classes).contains(a), (0..<classes).contains(p) else {
                tensorFailure("ConfusionMatrix: label \(a) or prediction \(p) is outside 0..<\(classes)")
            }
            counts[a][p] += 1
        }
    }

    /// From scores `[N, C]` (argmax is the prediction) and labels.
    public init<Scalar>(scores: Tensor<Scalar>, labels: [Int]) {
        self.init(actual: labels, predicted: scores.argmax(alongAxis: 1).scalars, classes: scores.shape[1])
    }

    /// The number of examples counted: `Σ counts`.
    public var total: Int { counts.joined().reduce(0, +) }
    /// The diagonal over the total.
    public var accuracy: Double {
        Double((0..<classes).reduce(0) { $0 + counts[$1][$1] }) / Double(Swift.max(total, 1))
    }
    /// Per class: correct predictions of the class over all predictions of it (NaN when never predicted).
    public var precision: [Double] {
        (0..<classes).map { c in Double(counts[c][c]) / Double((0..<classes).reduce(0) { $0 + counts[$1][c] }) }
    }
    /// Per class: correct predictions of the class over its samples (NaN when it has none).
    public var recall: [Double] {
        (0..<classes).map { c in Double(counts[c][c]) / Double(counts[c].reduce(0, +)) }
    }

    /// Rows are actual classes, columns predicted.
    public var description: String {
        counts.map { $0.map(String.init).joined(separator: "\t") }.joined(separator: "\n")
    }
}
