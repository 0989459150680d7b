import AutoDiff
import Foundation
import Testing

@testable import NN

/// A plain-Double reference of each update rule, written from the formulas in the docs.
struct ReferenceOptimizer {
    var kind: String
    var lr: Double
    var schedule: LearningRateSchedule = .constant
    var weightDecay = 0.0
    var state: [[Double]] = []
    var t = 0

    mutating func step(_ w: inout [Double], _ g: [Double]) {
        if state.isEmpty { state = Array(repeating: Array(repeating: 0, count: w.count), count: 3) }
        let lr = self.lr * schedule.factor(step: t)
        t += 1
        for i in w.indices {
            w[i] *= 1 - lr * weightDecay
            switch kind {
            case "sgd": w[i] -= lr * g[i]
            case "momentum":
                state[0][i] = 0.9 * state[0][i] + g[i]
                w[i] -= lr * state[0][i]
            case "nesterov":
                state[0][i] = 0.9 * state[0][i] + g[i]
                w[i] -= lr * (g[i] + 0.9 * state[0][i])
            case "adagrad":
                state[0][i] += g[i] * g[i]
                w[i] -= lr * g[i] / (state[0][i].squareRoot() + 1e-10)
            case "rmsprop":
                state[0][i] = 0.99 * state[0][i] + 0.01 * g[i] * g[i]
                w[i] -= lr * g[i] / (state[0][i].squareRoot() + 1e-8)
            default:  // adam, amsgrad
                state[0][i] = 0.9 * state[0][i] + 0.1 * g[i]
                state[1][i] = 0.999 * state[1][i] + 0.001 * g[i] * g[i]
                state[2][i] = max(state[2][i], state[1][i])
                let v = kind == "amsgrad" ? state[2][i] : state[1][i]
                let mHat = state[0][i] / (1 - pow(0.9, Double(t)))
                let vHat = v / (1 - pow(0.999, Double(t)))
                w[i] -= lr * mHat / (vHat.squareRoot() + 1e-8)
            }
        }
    }
}

@Suite("Optimizers")
struct OptimizerTests {
    static func make(_ name: String, _ p: [Parameter<Double>]) -> (Optimizer<Double>, ReferenceOptimizer) {
        switch name {
        case "sgd": (SGD(parameters: p, learningRate: 0.1), ReferenceOptimizer(kind: "sgd", lr: 0.1))
        case "sgd+decay":
            (
                SGD(parameters: p, learningRate: 0.5, schedule: .inverseTimeDecay(0.1)),
                ReferenceOptimizer(kind: "sgd", lr: 0.5, schedule: .inverseTimeDecay(0.1))
            )
        case "momentum":
            (SGD(parameters: p, learningRate: 0.1, momentum: 0.9), ReferenceOptimizer(kind: "momentum", lr: 0.1))
        case "nesterov":
            (
                SGD(parameters: p, learningRate: 0.1, momentum: 0.9, nesterov: true),
                ReferenceOptimizer(kind: "nesterov", lr: 0.1)
            )
        case "adagrad": (Adagrad(parameters: p, learningRate: 0.3), ReferenceOptimizer(kind: "adagrad", lr: 0.3))
        case "rmsprop": (RMSprop(parameters: p, learningRate: 0.01), ReferenceOptimizer(kind: "rmsprop", lr: 0.01))
        case "adam": (Adam(parameters: p, learningRate: 0.05), ReferenceOptimizer(kind: "adam", lr: 0.05))
        case "amsgrad":
            (Adam(parameters: p, learningRate: 0.05, amsgrad: true), ReferenceOptimizer(kind: "amsgrad", lr: 0.05))
        case "adamW":
            (
                AdamW(parameters: p, learningRate: 0.05, weightDecay: 0.1),
                ReferenceOptimizer(kind: "adam", lr: 0.05, weightDecay: 0.1)
            )
        default:  // "adam+cosine"
            (
                Adam(parameters: p, learningRate: 0.05, schedule: .cosine(period: 4)),
                ReferenceOptimizer(kind: "adam", lr: 0.05, schedule: .cosine(period: 4))
            )
        }
    }

    @Test(
        "Each optimizer matches its documented update rule over 6 steps",
        arguments: [
            "sgd", "sgd+decay", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "amsgrad", "adamW", "adam+cosine",
        ])
    func matchesReference(name: String) {
        let parameter = Parameter(Tensor<Double>([1.5, -2, 0.3, 4]))
        let leaf = parameter.value
        let (optimizer, reference) = Self.make(name, [parameter])
        var ref = reference
        var w = parameter.value.scalars
        let c = Tensor<Double>([0.5, 1, -3, 0.1])
        for _ in 0..<6 {
            optimizer.zeroGrad()
            // A loss whose gradient changes with w (and shrinks, so AMSGrad's max matters).
            let loss = (parameter.value.squared().squared() * c.abs()).sum() * 0.05 + (parameter.value * c).sum()
            loss.backward()
            let g = parameter.grad!.scalars
            optimizer.step()
            ref.step(&w, g)
        }
        #expect(approximatelyEqual(parameter.value.scalars, w, tolerance: 1e-12), "\(parameter.value.scalars) vs \(w)")
        #expect(optimizer.stepCount == 6)
        // Updated in place: the parameter is still the leaf that graphs were recorded against.
        leaf.zeroGrad()
        (leaf * 2).sum().backward()
        #expect(parameter.grad?.scalars == [2, 2, 2, 2])
    }

    /// A script ported from PyTorch gets PyTorch's run: the same defaults from every initializer.
    @Test("Defaults are PyTorch's, from both initializers")
    func pytorchDefaults() {
        var generator = RandomGenerator(seed: 1)
        let model = Linear<Double>(2, 1, generator: &generator)
        let p = model.parameters
        for sgd in [SGD(parameters: p), SGD(for: model)] { #expect(sgd.learningRate == 1e-3 && sgd.momentum == 0) }
        for adagrad in [Adagrad(parameters: p), Adagrad(for: model)] {
            #expect(adagrad.learningRate == 0.01 && adagrad.epsilon == 1e-10)
        }
        for rmsprop in [RMSprop(parameters: p), RMSprop(for: model)] {
            #expect(rmsprop.learningRate == 0.01 && rmsprop.rho == 0.99 && rmsprop.epsilon == 1e-8)
        }
        for adam in [Adam(parameters: p), Adam(for: model)] {
            #expect(adam.learningRate == 1e-3 && adam.beta1 == 0.9 && adam.beta2 == 0.999 && adam.epsilon == 1e-8)
            #expect(adam.weightDecay == 0)
        }
        for adamW in [AdamW(parameters: p), AdamW(for: model)] {
            #expect(adamW.learningRate == 1e-3 && adamW.epsilon == 1e-8 && adamW.weightDecay == 0.01)
        }
    }

    @Test("A Float model trains with one pass per parameter (no replaced leaves)")
    func floatInPlace() {
        var g = RandomGenerator(seed: 1)
        let model = Sequential<Float>(mlp: [2, 3, 1], activation: .tanh, generator: &g)
        let leaves = model.parameters.map(\.value)
        let optimizer = Adam(for: model, learningRate: 0.1)
        let x = Tensor<Float>(rows: [[0, 1], [1, 0]])
        let y = Tensor<Float>(rows: [[1], [0]])
        var first: Float = 0
        var last: Float = 0
        for i in 0..<20 {
            optimizer.zeroGrad()
            let loss = meanSquaredError(predictions: model(x), targets: y)
            if i == 0 { first = loss.item }
            last = loss.item
            loss.backward()
            optimizer.step()
        }
        #expect(last < first / 4)
        // Writing through a leaf copy made before training shows the same node: grads land on it.
        model.zeroGrad()
        meanSquaredError(predictions: model(x), targets: y).backward()
        #expect(
            zip(leaves, model.parameters).allSatisfy { $0.0.grad != nil && $0.0.grad!.scalars == $0.1.grad!.scalars })
    }

    @Test("Parameters without a gradient are skipped")
    func skipsUnused() {
        let used = Parameter(Tensor<Double>([1]))
        let unused = Parameter(Tensor<Double>([1]))
        let sgd = SGD(parameters: [used, unused], learningRate: 0.5)
        (used.value * 3).sum().backward()
        sgd.step()
        #expect(used.value.scalars == [-0.5])
        #expect(unused.value.scalars == [1])
    }

    @Test(
        "Learning-rate schedules",
        arguments: [
            ("constant", LearningRateSchedule.constant, [1, 1, 1, 1, 1]),
            ("inverseTimeDecay", .inverseTimeDecay(0.5), [1, 1 / 1.5, 0.5, 1 / 2.5, 1 / 3.0]),
            ("step", .step(every: 2, gamma: 0.1), [1, 1, 0.1, 0.1, 0.01]),
            ("exponential", .exponential(gamma: 0.5), [1, 0.5, 0.25, 0.125, 0.0625]),
            (
                "cosine", .cosine(period: 4, minimumFactor: 0.2),
                [1, 0.2 + 0.8 * (1 + cos(Double.pi / 4)) / 2, 0.6, 0.2 + 0.8 * (1 + cos(3 * Double.pi / 4)) / 2, 0.2]
            ),
        ] as [(String, LearningRateSchedule, [Double])])
    func schedules(name: String, schedule: LearningRateSchedule, expected: [Double]) {
        #expect(approximatelyEqual((0..<5).map { schedule.factor(step: $0) }, expected, tolerance: 1e-12))
    }

    @Test("The book's decay: step t uses lr/(1 + decay·t)")
    func currentLearningRate() {
        let p = Parameter(Tensor<Double>([0]))
        let adam = Adam(parameters: [p], learningRate: 0.05, schedule: .inverseTimeDecay(5e-5))
        #expect(adam.currentLearningRate == 0.05)
        for _ in 0..<10 {
            p.zeroGrad()
            (p.value * 1).sum().backward()
            adam.step()
        }
        #expect(abs(adam.currentLearningRate - 0.05 / (1 + 5e-5 * 10)) < 1e-15)
    }

    @Test("Clipping by global norm scales every gradient by maxNorm/‖g‖ and returns the norm")
    func clipping() {
        let a = Parameter(Tensor<Double>([1, 1]))
        let b = Parameter(Tensor<Double>([1]))
        ((a.value * Tensor([3, 0])).sum() + (b.value * 4).sum()).backward()
        let sgd = SGD(parameters: [a, b])
        let norm = sgd.clipGradients(maxNorm: 1)
        #expect(abs(norm - 5) < 1e-12)
        #expect(approximatelyEqual(a.grad!.scalars + b.grad!.scalars, [0.6, 0, 0.8], tolerance: 1e-6))
        let after = sgd.clipGradients(maxNorm: 10)
        #expect(abs(after - 1) < 1e-6)
        #expect(approximatelyEqual(a.grad!.scalars + b.grad!.scalars, [0.6, 0, 0.8], tolerance: 1e-6))
    }

    @Test("Optimizer state round-trips and rejects missing or mis-shaped buffers")
    func stateRoundTrip() throws {
        let p = Parameter(Tensor<Double>([1, 2]))
        let adam = Adam(parameters: [p], learningRate: 0.1)
        (p.value.squared()).sum().backward()
        adam.step()
        let saved = Dictionary(uniqueKeysWithValues: adam.stateTensors.map { ($0.name, $0.tensor) })
        #expect(saved.keys.sorted() == ["m.0", "v.0"])
        let other = Adam(parameters: [Parameter(Tensor<Double>([0, 0]))])
        try other.loadState(saved, stepCount: 1)
        #expect(other.stateTensors.map(\.tensor.scalars) == adam.stateTensors.map(\.tensor.scalars))
        #expect(other.stepCount == 1)
        #expect(throws: NNError.self) { try other.loadState(["m.0": Tensor([1, 2])], stepCount: 1) }
        #expect(throws: NNError.self) {
            try other.loadState(["m.0": Tensor([1, 2]), "v.0": Tensor([1, 2, 3])], stepCount: 1)
        }
    }
}
