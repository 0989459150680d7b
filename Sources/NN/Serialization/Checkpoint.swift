import AutoDiff

/// A training run saved to one safetensors file: the model's parameters and buffers
/// (`model.<name>`: weights, BatchNorm's running statistics), the
/// optimizer's state buffers (`optimizer.<slot>.<index>`), and in the metadata the step number,
/// the optimizer's step count, and the state of every random generator — the model's dropout
/// generators and the caller's own (e.g. the batch shuffler), so a run resumed from it produces
/// exactly the numbers of an uninterrupted run.
///
/// ```swift
/// try Checkpoint.save(to: path, model: model, optimizer: optimizer, step: epoch, generators: ["shuffle": shuffler])
/// // later, with a model and optimizer built the same way:
/// let restored = try Checkpoint.load(from: path, model: model, optimizer: optimizer)
/// var shuffler = restored.generators["shuffle"]!
/// for epoch in restored.step..<epochs { … }
/// ```
public enum Checkpoint {
    /// The format tag stored in the metadata.
    public static let format = "swift-autodiff-checkpoint/1"

    /// What ``load(from:model:optimizer:)`` returns besides restoring the model and optimizer.
    public struct Restored: Sendable {
        /// The step saved by ``save(to:model:optimizer:step:generators:metadata:)``.
        public let step: Int
        /// The caller's generators, by the names they were saved under.
        public let generators: [String: RandomGenerator]
        /// The caller's extra metadata.
        public let metadata: [String: String]
    }

    /// Saves the run atomically.
    public static func save<Model: Layer>(
        to path: String, model: Model, optimizer: Optimizer<Model.Scalar>, step: Int,
        generators: [String: RandomGenerator] = [:], metadata: [String: String] = [:]
    ) throws {
        var tensors: [(name: String, tensor: Tensor<Model.Scalar>)] = model.savedTensors.map {
            ("model." + $0.name, $0.tensor)
        }
        tensors += optimizer.stateTensors.map { ("optimizer." + $0.name, $0.tensor) }
        var meta: [String: String] = [:]
        for (k, v) in metadata { meta["user." + k] = v }
        meta["format"] = format
        meta["step"] = String(step)
        meta["optimizer.type"] = String(describing: type(of: optimizer))
        meta["optimizer.stepCount"] = String(optimizer.stepCount)
        for g in model.namedGenerators { meta["generator.model." + g.name] = encode(g.get()) }
        for (name, g) in generators { meta["generator.user." + name] = encode(g) }
        do {
            try Safetensors.write(tensors, metadata: meta, to: path)
        } catch NNError.safetensors(_, let problem) {
            throw NNError.checkpoint(file: path, problem: problem)
        }
    }

    /// Restores the model's parameters (in place) and buffers, the optimizer's state and step count, and the
    /// model's dropout generators; returns the step and the caller's generators. The model and
    /// optimizer must be built as they were when saved: every mismatch is reported and nothing
    /// is changed.
    public static func load<Model: Layer>(
        from path: String, model: Model, optimizer: Optimizer<Model.Scalar>
    ) throws -> Restored {
        let contents = try Safetensors.read(contentsOf: path, as: Model.Scalar.self)
        let meta = contents.metadata
        func fail(_ problem: String) -> NNError { .checkpoint(file: path, problem: problem) }
        guard meta["format"] == format else {
            throw fail("not a checkpoint (metadata format is \(meta["format"].map { "\"\($0)\"" } ?? "missing"), expected \"\(format)\")")
        }
        guard let step = meta["step"].flatMap(Int.init), let optimizerSteps = meta["optimizer.stepCount"].flatMap(Int.init) else {
            throw fail("the step or optimizer.stepCount metadata is missing or not an integer")
        }
        let optimizerType = String(describing: type(of: optimizer))
        guard meta["optimizer.type"] == optimizerType else {
            throw fail("was saved with optimizer \(meta["optimizer.type"] ?? "?"), not \(optimizerType)")
        }
        var generators: [String: RandomGenerator] = [:]
        var modelGenerators: [String: RandomGenerator] = [:]
        for (key, value) in meta where key.hasPrefix("generator.") {
            guard let g = decode(value) else { throw fail("generator state \(key) is malformed") }
            if key.hasPrefix("generator.user.") { generators[String(key.dropFirst("generator.user.".count))] = g }
            if key.hasPrefix("generator.model.") { modelGenerators[String(key.dropFirst("generator.model.".count))] = g }
        }
        let named = model.namedGenerators
        let missingGenerators = named.map(\.name).filter { modelGenerators[$0] == nil }
        guard missingGenerators.isEmpty else { throw fail("missing generator state for \(missingGenerators.joined(separator: ", "))") }

        var problems = model.parameterProblems(contents.tensors, prefix: "model.")
        let strays = contents.tensors.keys.filter { !$0.hasPrefix("model.") && !$0.hasPrefix("optimizer.") }.sorted()
        if !strays.isEmpty { problems += (problems.isEmpty ? "" : "; ") + "unexpected \(strays.joined(separator: ", "))" }
        guard problems.isEmpty else { throw fail(problems) }
        var optimizerState: [String: Tensor<Model.Scalar>] = [:]
        for (name, t) in contents.tensors where name.hasPrefix("optimizer.") {
            optimizerState[String(name.dropFirst("optimizer.".count))] = t
        }
        do {
            try optimizer.loadState(optimizerState, stepCount: optimizerSteps)
        } catch {
            throw fail("\(error)")
        }
        model.assignParameters(contents.tensors, prefix: "model.")
        for g in named { g.set(modelGenerators[g.name]!) }
        var user: [String: String] = [:]
        for (k, v) in meta where k.hasPrefix("user.") { user[String(k.dropFirst(5))] = v }
        return Restored(step: step, generators: generators, metadata: user)
    }

    static func encode(_ g: RandomGenerator) -> String { g.state.map(String.init).joined(separator: ",") }

    static func decode(_ s: String) -> RandomGenerator? {
        let words = s.split(separator: ",").compactMap { UInt64($0) }
        guard words.count == 4, words.contains(where: { $0 != 0 }) else { return nil }
        return RandomGenerator(state: words)
    }
}
