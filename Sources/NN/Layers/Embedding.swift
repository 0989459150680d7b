import AutoDiff

/// A lookup table of `numEmbeddings` learned vectors of width `embeddingDim` (PyTorch
/// `nn.Embedding`): integer indices of any shape `S` give vectors of shape `S + [embeddingDim]`,
///
///     out[p, :] = weight[indices[p], :]
///
/// and the gradient of `weight` is the upstream gradient's rows added at their indices
/// (AutoDiff's `Tensor.embedding(indices:indexShape:weight:paddingIndex:)`). The row
/// `paddingIndex`, if given, starts at zero and never receives a gradient, so it stays zero under
/// any optimizer without weight decay.
///
/// ```swift
/// let tokens = Embedding<Float>(65, 64, generator: &generator)
/// let x = tokens(indices: batch, shape: [64, 16])   // [64, 16, 64]
/// ```
public final class Embedding<Scalar: TensorScalar>: Layer {
    /// The table, shape `[numEmbeddings, embeddingDim]`, named `weight`, drawn from `N(0, 1)`
    /// (PyTorch's default).
    public let weight: Parameter<Scalar>
    /// The index whose row is zero at creation and receives no gradient, or `nil`.
    public let paddingIndex: Int?

    /// A table of `numEmbeddings` vectors of width `embeddingDim` drawn by `initializer` (standard
    /// normal by default, as PyTorch), with the `paddingIndex` row set to zero.
    public init(
        _ numEmbeddings: Int, _ embeddingDim: Int, paddingIndex: Int? = nil,
        initializer: Initializer = .scaledNormal(1), generator: inout RandomGenerator
    ) {
        guard numEmbeddings > 0, embeddingDim > 0 else {
            tensorFailure("Embedding: sizes must be positive, got \(numEmbeddings) embeddings of width \(embeddingDim)")
        }
        if let paddingIndex, paddingIndex < 0 || paddingIndex >= numEmbeddings {
            tensorFailure("Embedding: paddingIndex \(paddingIndex) is out of range for \(numEmbeddings) embeddings")
        }
        var table: Tensor<Scalar> = initializer.make([numEmbeddings, embeddingDim], generator: &generator)
        if let paddingIndex {
            table.withUnsafeMutableBufferPointer { values in
                for j in 0..<embeddingDim { values[paddingIndex * embeddingDim + j] = 0 }
            }
        }
        weight = Parameter(table, role: .weight)
        self.paddingIndex = paddingIndex
    }

    /// The number of rows of the table.
    public var numEmbeddings: Int { weight.shape[0] }
    /// The width of each vector.
    public var embeddingDim: Int { weight.shape[1] }

    /// The vectors of `indices`, a row-major index tensor of shape `shape`: `shape + [embeddingDim]`.
    public func callAsFunction(indices: [Int], shape: [Int]) -> Tensor<Scalar> {
        Tensor.embedding(indices: indices, indexShape: shape, weight: weight.value, paddingIndex: paddingIndex)
    }

    /// The vectors of the integer tensor `indices`: `indices.shape + [embeddingDim]`, looked up
    /// on the device without reading the indices on the host.
    public func callAsFunction(_ indices: IndexTensor) -> Tensor<Scalar> {
        Tensor.embedding(indices: indices, weight: weight.value, paddingIndex: paddingIndex)
    }

    /// The vectors of indices held as a tensor of whole numbers (as ``Dataset`` stores labels):
    /// `input.shape + [embeddingDim]`. A value that is not a whole number is an error; the
    /// conversion is a kernel on the input's device.
    public func forward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        self(IndexTensor(labels: input, op: "Embedding"))
    }

    public var ownParameters: [(name: String, parameter: Parameter<Scalar>)] { [("weight", weight)] }
}
