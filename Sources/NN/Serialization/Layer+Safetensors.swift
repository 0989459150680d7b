import AutoDiff

extension Layer {
    /// Saves every parameter and every buffer (BatchNorm's running statistics) under its path
    /// name (`layers.0.weight`, `layers.1.running_mean`) to a safetensors file, atomically. In
    /// Python: `safetensors.numpy.load_file(path)["layers.0.weight"]` is the `[in, out]` weight
    /// (`x @ W + b`).
    public func saveParameters(to path: String, metadata: [String: String] = [:]) throws {
        try Safetensors.write(savedTensors, metadata: metadata, to: path)
    }

    /// What a model file holds: the parameters, then the buffers, by path.
    var savedTensors: [(name: String, tensor: Tensor<Scalar>)] {
        namedParameters.map { ($0.name, $0.parameter.value.detached()) }
            + namedBuffers.map { ($0.name, $0.buffer.value) }
    }

    /// Loads every parameter and buffer from a safetensors file written here or by Python (F32
    /// or F64, converted to the model's precision), in place: the parameters keep their
    /// identity.
    ///
    /// The file must hold exactly the model's tensors (parameters and buffers; a model without
    /// buffers loads files written before buffers existed) with the model's shapes; otherwise nothing
    /// is changed and ``NNError/parameterMismatch(file:problem:)`` names every missing, extra and
    /// mis-shaped tensor. Returns the file's metadata.
    @discardableResult
    public func loadParameters(from path: String) throws -> [String: String] {
        let contents = try Safetensors.read(contentsOf: path, as: Scalar.self)
        let problems = parameterProblems(contents.tensors, prefix: "")
        guard problems.isEmpty else { throw NNError.parameterMismatch(file: path, problem: problems) }
        assignParameters(contents.tensors, prefix: "")
        return contents.metadata
    }

    /// A description of every missing, extra and mis-shaped tensor among `tensors` named
    /// `prefix + parameter or buffer name` (other names are ignored unless they start with
    /// `prefix`); empty when they match.
    func parameterProblems(_ tensors: [String: Tensor<Scalar>], prefix: String) -> String {
        let named = savedTensors
        let expected = Set(named.map { prefix + $0.name })
        var missing: [String] = []
        var misshaped: [String] = []
        for p in named {
            guard let t = tensors[prefix + p.name] else {
                missing.append(prefix + p.name)
                continue
            }
            if t.shape != p.tensor.shape {
                misshaped.append("\(prefix + p.name) has shape \(t.shape), the model expects \(p.tensor.shape)")
            }
        }
        let extra = tensors.keys.filter { $0.hasPrefix(prefix) && !expected.contains($0) }.sorted()
        var parts: [String] = []
        if !missing.isEmpty { parts.append("missing \(missing.joined(separator: ", "))") }
        if !extra.isEmpty { parts.append("unexpected \(extra.joined(separator: ", "))") }
        if !misshaped.isEmpty { parts.append(misshaped.joined(separator: "; ")) }
        return parts.joined(separator: "; ")
    }

    /// Copies validated tensors into the parameters' storage, and makes them the buffers'
    /// values.
    func assignParameters(_ tensors: [String: Tensor<Scalar>], prefix: String) {
        for p in namedParameters { p.parameter.assign(tensors[prefix + p.name]!) }
        for b in namedBuffers {
            b.buffer.assign(tensors[prefix + b.name]!)
        }
    }
}
