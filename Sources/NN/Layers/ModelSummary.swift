import AutoDiff

/// A model described layer by layer, as Keras' `model.summary()` and torchinfo print it: each
/// layer's path and type, the shape of its output and its parameter count, and the total.
///
/// ```swift
/// print(model.summary(inputShape: [1, 784]))
/// // Layer (type)          Output shape    Parameters
/// // ─────────────────────────────────────────────────
/// // input                 [1, 784]                 0
/// // layers.0 (Linear)     [1, 512]           401,920
/// // layers.1 (ReLU)       [1, 512]                 0
/// // …
/// // ─────────────────────────────────────────────────
/// // Total parameters: 535,818
/// ```
public struct ModelSummary: Equatable, Sendable, CustomStringConvertible {
    /// One layer of the summary.
    public struct Row: Equatable, Sendable {
        /// The layer's path in the model (`layers.0`).
        public var name: String
        /// The layer's type without its generic argument (`Linear`).
        public var type: String
        /// The shape of the layer's output for the summary's input shape.
        public var outputShape: [Int]
        /// Trainable scalars in the layer and its children.
        public var parameters: Int
    }

    /// The input shape the output shapes were computed for, batch dimension first.
    public var inputShape: [Int]
    /// The layers, in the order they run.
    public var rows: [Row]

    /// Trainable scalars in the whole model: the sum of the rows' counts.
    public var totalParameters: Int { rows.reduce(0) { $0 + $1.parameters } }

    /// The table: a header, the input, a line per layer, the total.
    public var description: String {
        let header = ("Layer (type)", "Output shape", "Parameters")
        let lines =
            [("input", Self.shape(inputShape), "0")]
            + rows.map { ("\($0.name) (\($0.type))", Self.shape($0.outputShape), Self.grouped($0.parameters)) }
        let nameWidth = ([header.0] + lines.map(\.0)).map(\.count).max()! + 2
        let shapeWidth = ([header.1] + lines.map(\.1)).map(\.count).max()! + 2
        let countWidth = ([header.2] + lines.map(\.2)).map(\.count).max()!
        func row(_ name: String, _ shape: String, _ count: String) -> String {
            name.padding(toLength: nameWidth, withPad: " ", startingAt: 0)
                + shape.padding(toLength: shapeWidth, withPad: " ", startingAt: 0)
                + String(repeating: " ", count: countWidth - count.count) + count
        }
        let rule = String(repeating: "─", count: nameWidth + shapeWidth + countWidth)
        return
            ([row(header.0, header.1, header.2), rule] + lines.map { row($0.0, $0.1, $0.2) } + [
                rule, "Total parameters: \(Self.grouped(totalParameters))",
            ]).joined(separator: "\n")
    }

    static func shape(_ dimensions: [Int]) -> String { "[" + dimensions.map(String.init).joined(separator: ", ") + "]" }

    /// `535818` → `535,818`.
    static func grouped(_ count: Int) -> String {
        let digits = Array(String(count))
        var result = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { result.append(",") }
            result.append(digit)
        }
        return result
    }
}

extension Sequential {
    /// The model described layer by layer for an input of `inputShape` (batch dimension first,
    /// e.g. `[1, 784]`).
    ///
    /// The output shapes come from running the model once on zeros, without recording a tape and
    /// in evaluation mode, so they are right for any layer; the random generators (dropout's) are
    /// restored afterwards, so describing a model does not change what it trains to. The model is
    /// left in evaluation mode: call ``Layer/train()`` before training (the demos' loop does each
    /// epoch).
    public func summary(inputShape: [Int]) -> ModelSummary {
        if inputShape.isEmpty || inputShape.contains(where: { $0 < 0 }) {
            tensorFailure(
                "Sequential.summary: input shape \(inputShape) must have at least one dimension and none negative")
        }
        let generators = namedGenerators
        let saved = generators.map { $0.get() }
        defer { for (generator, state) in zip(generators, saved) { generator.set(state) } }
        eval()
        return withoutGrad {
            var x = Tensor<Scalar>.zeros(inputShape, on: parameters.first?.value.device ?? .cpu)
            var rows: [ModelSummary.Row] = []
            for (name, layer) in children {
                x = layer(x)
                let typeName = String(describing: type(of: layer))
                rows.append(
                    ModelSummary.Row(
                        name: name, type: String(typeName.prefix { $0 != "<" }), outputShape: x.shape,
                        parameters: layer.parameterCount))
            }
            return ModelSummary(inputShape: inputShape, rows: rows)
        }
    }
}
