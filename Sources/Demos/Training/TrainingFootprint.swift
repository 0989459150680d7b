import NN

/// The memory a run of ``ClassifierModel`` needs, checked before anything is allocated, so a
/// `--hidden` width too large for this machine is a one-line error naming the option and the
/// largest width that fits, instead of a failed allocation or an overflowing size.
///
/// An estimate, from the sizes alone, in 4-byte scalars:
/// - every parameter with its gradient and the optimizer's state slots (Adam: m and v);
/// - the activations of the largest forward pass, rows × (Σ hidden widths + outputs), each with
///   the Linear, ReLU and Dropout outputs and their gradients.
///
/// Every product is computed with overflow-reporting arithmetic, so widths up to `Int.max` are
/// refused, not trapped on.
enum TrainingFootprint {
    static let scalarBytes = MemoryLayout<Float>.size
    /// Activation tensors kept per hidden unit and row: three outputs and three gradients.
    static let activationsPerUnit = 6

    /// Throws unless the model `inputs → settings.hidden → outputs`, trained in batches of
    /// `settings.batchSize` (at most `trainCount`) and evaluated on up to `evaluatedRows` rows at a
    /// time, fits in ``PhysicalMemory``.
    static func check(inputs: Int, outputs: Int, trainCount: Int, evaluatedRows: Int, settings: TrainingSettings) throws
    {
        let rows = max(min(settings.batchSize, trainCount), min(ClassifierTraining.evaluationChunk, evaluatedRows))
        let perParameter = 2 + stateSlots(settings.optimizer)
        let memory = PhysicalMemory.bytes
        let needed = bytes(
            widths: [inputs] + settings.hidden + [outputs], rows: rows, tensorsPerParameter: perParameter)
        if let needed, needed <= memory { return }
        let need = needed.map { "about \(PhysicalMemory.describe($0))" } ?? "more bytes than a 64-bit count holds"
        let widest = widestSingleLayer(
            inputs: inputs, outputs: outputs, rows: rows, tensorsPerParameter: perParameter, memory: memory)
        let specification = settings.hidden.map(String.init).joined(separator: ",")
        throw DemoError.message(
            "--hidden \(specification) is out of range: training it needs \(need), this machine has \(PhysicalMemory.describe(memory)) of memory: expected comma-separated integers ≥ 1 that fit, e.g. one layer of at most \(widest)"
        )
    }

    /// The estimate's bytes, or `nil` when it overflows `Int`.
    static func bytes(widths: [Int], rows: Int, tensorsPerParameter: Int) -> Int? {
        var parameters = 0
        var units = 0
        for (fanIn, fanOut) in zip(widths, widths.dropFirst()) {
            let (withBias, biasOverflow) = fanIn.addingReportingOverflow(1)
            guard !biasOverflow, let layer = product([withBias, fanOut]) else { return nil }
            let (sum, overflow) = parameters.addingReportingOverflow(layer)
            let (unitSum, unitOverflow) = units.addingReportingOverflow(fanOut)
            if overflow || unitOverflow { return nil }
            parameters = sum
            units = unitSum
        }
        guard let parameterBytes = product([parameters, tensorsPerParameter, scalarBytes]),
            let activationBytes = product([rows, units, activationsPerUnit, scalarBytes])
        else { return nil }
        let (total, overflow) = parameterBytes.addingReportingOverflow(activationBytes)
        return overflow ? nil : total
    }

    /// The largest width `w` of one hidden layer whose estimate fits in `memory` (0 when none does):
    /// the estimate is linear in `w`, so a binary search over it finds the bound exactly.
    static func widestSingleLayer(inputs: Int, outputs: Int, rows: Int, tensorsPerParameter: Int, memory: Int) -> Int {
        func fits(_ width: Int) -> Bool {
            guard
                let needed = bytes(
                    widths: [inputs, width, outputs], rows: rows, tensorsPerParameter: tensorsPerParameter)
            else { return false }
            return needed <= memory
        }
        var (low, high) = (0, memory / scalarBytes)
        while low < high {
            let middle = low + (high - low + 1) / 2
            if fits(middle) { low = middle } else { high = middle - 1 }
        }
        return low
    }

    /// Optimizer state tensors per parameter (`Optimizer.stateSlotNames` of each choice).
    static func stateSlots(_ optimizer: OptimizerChoice) -> Int {
        switch optimizer {
        case .sgd, .rmsprop, .adagrad: 1
        case .adam, .adamw: 2
        case .amsgrad: 3
        }
    }

    private static func product(_ factors: [Int]) -> Int? {
        var result = 1
        for factor in factors {
            let (p, overflow) = result.multipliedReportingOverflow(by: factor)
            if overflow { return nil }
            result = p
        }
        return result
    }
}
