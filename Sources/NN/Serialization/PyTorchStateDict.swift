import AutoDiff

/// How one of a layer's tensors is stored in the PyTorch module of the same kind.
public enum PyTorchLayout: Sendable, Equatable {
    /// The same shape and element order (convolution weights `[out, in/groups, k…]`, biases,
    /// normalization scales and running statistics).
    case same
    /// A matrix stored transposed: ``Linear`` keeps `W` as `[in, out]` (`y = x·W + b`, the book's
    /// layout), PyTorch's `nn.Linear` as `[out, in]` (`y = x·Wᵀ + b`).
    case transposed
    /// A counter PyTorch keeps as a 64-bit integer (BatchNorm's `num_batches_tracked`), here a
    /// tensor of whole numbers; written as `I64`.
    case integer
}

/// A layer whose child names or tensor layouts differ from those of the PyTorch module it
/// mirrors. Layers that do not conform are taken to match PyTorch exactly (same local names,
/// same layouts).
public protocol PyTorchNaming {
    /// PyTorch's name for the child this library names `name` (``Sequential``: `layers.3` → `3`).
    func pytorchName(ofChild name: String) -> String
    /// How this layer's own tensor `name` (a parameter or a buffer) is stored in PyTorch.
    func pytorchLayout(of name: String) -> PyTorchLayout
}

extension PyTorchNaming {
    public func pytorchName(ofChild name: String) -> String { name }
    public func pytorchLayout(of name: String) -> PyTorchLayout { .same }
}

extension Sequential: PyTorchNaming {
    /// `layers.3` → `3`, as `nn.Sequential` numbers its modules.
    public func pytorchName(ofChild name: String) -> String {
        name.hasPrefix("layers.") ? String(name.dropFirst("layers.".count)) : name
    }
}

extension BatchNormLayer: PyTorchNaming {
    /// `num_batches_tracked` is an int64 in PyTorch.
    public func pytorchLayout(of name: String) -> PyTorchLayout { name == "num_batches_tracked" ? .integer : .same }
}

extension Linear: PyTorchNaming {
    /// The weight is `[out, in]` in PyTorch.
    public func pytorchLayout(of name: String) -> PyTorchLayout { name == "weight" ? .transposed : .same }
}

/// One tensor of a model as PyTorch's `state_dict` names and lays it out.
struct PyTorchEntry<Scalar: TensorScalar> {
    /// The `state_dict` key, e.g. `4.running_mean`.
    let name: String
    /// The model's own tensor (a parameter's leaf or a buffer), in this library's layout.
    let tensor: Tensor<Scalar>
    let layout: PyTorchLayout
    /// Replaces the model's tensor with a value in this library's layout (shape already checked).
    let assign: (Tensor<Scalar>) -> Void

    /// The shape PyTorch stores.
    var pytorchShape: [Int] { layout == .transposed ? tensor.shape.reversed() : tensor.shape }

    /// `tensor` in PyTorch's layout, detached (a transpose is a new tensor, the rest shares the
    /// model's storage, as `saveParameters` does).
    func toPyTorch() -> Tensor<Scalar> {
        let value = tensor.detached()
        return layout == .transposed ? value.transposed() : value
    }

    /// `value` (in PyTorch's layout) converted to this library's.
    func fromPyTorch(_ value: Tensor<Scalar>) -> Tensor<Scalar> {
        layout == .transposed ? value.detached().transposed() : value
    }
}

extension Layer {
    /// Every parameter and buffer under the name PyTorch's module of the same structure gives it
    /// in `state_dict()`, with its layout there. The order is this model's.
    var pytorchEntries: [PyTorchEntry<Scalar>] {
        var result: [PyTorchEntry<Scalar>] = []
        func visit(_ layer: any Layer<Scalar>, _ path: String) {
            let naming = layer as? any PyTorchNaming
            func qualified(_ name: String) -> String { path.isEmpty ? name : path + "." + name }
            for (name, parameter) in layer.ownParameters {
                result.append(
                    PyTorchEntry(
                        name: qualified(name), tensor: parameter.value,
                        layout: naming?.pytorchLayout(of: name) ?? .same,
                        assign: { value in parameter.assign(value) }))
            }
            for (name, buffer) in layer.ownBuffers {
                result.append(
                    PyTorchEntry(
                        name: qualified(name), tensor: buffer.value, layout: naming?.pytorchLayout(of: name) ?? .same,
                        assign: { value in buffer.assign(value) }))
            }
            for child in layer.children {
                visit(child.layer, qualified(naming?.pytorchName(ofChild: child.name) ?? child.name))
            }
        }
        visit(self, "")
        return result
    }

    /// The model's `state_dict` as PyTorch's module of the same structure names and lays it
    /// out: ``Sequential`` children are `0`, `1`, …; ``Linear`` weights `[out, in]`; everything
    /// else as stored here. Detached copies.
    public func pytorchStateDict() -> [(name: String, tensor: Tensor<Scalar>)] {
        pytorchEntries.map { ($0.name, $0.toPyTorch()) }
    }

    /// Saves the model's parameters and buffers as PyTorch's `state_dict` of the same module,
    /// atomically, so `module.load_state_dict(safetensors.torch.load_file(path))` loads it
    /// (counters such as `num_batches_tracked` as `I64`, the rest in this model's precision).
    public func savePyTorchStateDict(to path: String, metadata: [String: String] = [:]) throws {
        let entries = pytorchEntries
        let integers = Set(entries.filter { $0.layout == .integer }.map(\.name))
        try Safetensors.write(
            entries.map { ($0.name, $0.toPyTorch()) }, metadata: metadata, integerNames: integers, to: path)
    }

    /// Loads a `state_dict` that PyTorch saved with `safetensors.torch.save_file` (any float or
    /// integer dtype, converted to this model's precision), in place: parameters keep their
    /// identity. The file must hold exactly the model's tensors under PyTorch's names and
    /// shapes; otherwise nothing changes and ``NNError/parameterMismatch(file:problem:)`` names
    /// every missing, extra and mis-shaped tensor. Returns the file's metadata.
    @discardableResult
    public func loadPyTorchStateDict(from path: String) throws -> [String: String] {
        let contents = try Safetensors.read(contentsOf: path, as: Scalar.self)
        let entries = pytorchEntries
        var missing: [String] = []
        var misshaped: [String] = []
        for entry in entries {
            guard let t = contents.tensors[entry.name] else {
                missing.append(entry.name)
                continue
            }
            if t.shape != entry.pytorchShape {
                misshaped.append("\(entry.name) has shape \(t.shape), the model expects \(entry.pytorchShape)")
            }
        }
        let expected = Set(entries.map(\.name))
        let extra = contents.tensors.keys.filter { !expected.contains($0) }.sorted()
        var problems: [String] = []
        if !missing.isEmpty { problems.append("missing \(missing.joined(separator: ", "))") }
        if !extra.isEmpty { problems.append("unexpected \(extra.joined(separator: ", "))") }
        problems += misshaped
        guard problems.isEmpty else {
            throw NNError.parameterMismatch(file: path, problem: problems.joined(separator: "; "))
        }
        for entry in entries { entry.assign(entry.fromPyTorch(contents.tensors[entry.name]!)) }
        return contents.metadata
    }
}

extension Parameter {
    /// Copies `value` (of the parameter's shape) into the parameter's buffer in place.
    func assign(_ value: Tensor<Scalar>) {
        value.withUnsafeBufferPointer { source in
            self.value.withUnsafeMutableBufferPointer { destination in
                destination.baseAddress!.update(from: source.baseAddress!, count: source.count)
            }
        }
    }
}
