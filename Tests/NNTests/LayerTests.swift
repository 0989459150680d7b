import AutoDiff
import Testing
@testable import NN

@Suite("Layers")
struct LayerTests {
    @Test("Sequential names parameters by path, in declaration order")
    func parameterNames() {
        var g = RandomGenerator(seed: 1)
        let model = Sequential<Float> {
            Linear(2, 4, generator: &g)
            ReLU()
            Dropout(rate: 0.5, seed: 3)
            Sequential<Float> {
                Linear(4, 3, generator: &g)
                Tanh()
            }
            Linear(3, 1, generator: &g)
        }
        #expect(model.namedParameters.map(\.name) == [
            "layers.0.weight", "layers.0.bias", "layers.3.layers.0.weight", "layers.3.layers.0.bias",
            "layers.4.weight", "layers.4.bias",
        ])
        #expect(model.parameters.map(\.shape) == [[2, 4], [4], [4, 3], [3], [3, 1], [1]])
        #expect(model.parameterCount == 2 * 4 + 4 + 4 * 3 + 3 + 3 + 1)
        #expect(model.namedGenerators.map(\.name) == ["layers.2.generator"])
    }

    @Test("MLP from widths puts Linear layers at even indices with the activation between")
    func mlp() {
        var g = RandomGenerator(seed: 2)
        let model = Sequential<Float>(mlp: [2, 8, 8, 1], activation: .relu, output: .sigmoid, generator: &g)
        #expect(model.layers.count == 6)
        #expect(model.layers[1] is ReLU<Float>)
        #expect(model.layers[5] is Sigmoid<Float>)
        #expect(model.namedParameters.map(\.name) == [
            "layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias", "layers.4.weight", "layers.4.bias",
        ])
        let y = model(Tensor<Float>.ones([5, 2]))
        #expect(y.shape == [5, 1])
        #expect(y.scalars.allSatisfy { $0 > 0 && $0 < 1 })
    }

    @Test("Result builder accepts if, if/else and for")
    func builderControlFlow() {
        var g = RandomGenerator(seed: 3)
        let deep = true
        let model = Sequential<Double> {
            for _ in 0..<2 { Linear(3, 3, generator: &g) }
            if deep { Tanh() } else { ReLU() }
            if !deep { Sigmoid() }
        }
        #expect(model.layers.count == 3)
        #expect(model.layers[2] is Tanh<Double>)
    }

    @Test("Linear computes x·W + b with W of shape [in, out]")
    func linearForward() {
        let layer = Linear(weight: Tensor<Float>(rows: [[1, 2, 3], [4, 5, 6]]), bias: Tensor<Float>([0.5, -1, 0]))
        let y = layer(Tensor<Float>(rows: [[1, 1], [2, -1]]))
        #expect(y.shape == [2, 3])
        #expect(y.scalars == [5.5, 6, 9, -1.5, -2, 0])
    }

    @Test("Activation layers compute their functions", arguments: [
        ("relu", [0, 0, 0.5, 2]), ("leakyRelu", [-0.02, -0.005, 0.5, 2]), ("tanh", [-0.9640276, -0.46211716, 0.46211716, 0.9640276]),
        ("sigmoid", [0.11920292, 0.37754067, 0.62245933, 0.88079708]),
    ] as [(String, [Double])])
    func activations(name: String, expected: [Double]) {
        let x = Tensor<Double>([-2, -0.5, 0.5, 2])
        let layer: any Layer<Double> = switch name {
        case "relu": ReLU()
        case "leakyRelu": LeakyReLU(slope: 0.01)
        case "tanh": Tanh()
        default: Sigmoid()
        }
        #expect(approximatelyEqual(layer(x).scalars, expected, tolerance: 1e-7))
    }

    @Test("Softmax layer rows sum to 1")
    func softmaxLayer() {
        let y = Softmax<Double>()(Tensor(rows: [[1, 2, 3], [1000, 1000, 1000]]))
        #expect(approximatelyEqual(y.sum(alongAxis: 1).scalars, [1, 1], tolerance: 1e-12))
        #expect(approximatelyEqual(Array(y.scalars[3...]), [1.0 / 3, 1.0 / 3, 1.0 / 3], tolerance: 1e-12))
    }

    @Test("Dropout is inverted: kept units scaled by 1/(1−p), mean preserved, identity in eval")
    func dropoutScaling() {
        let dropout = Dropout<Double>(rate: 0.25, seed: 7)
        let x = Tensor<Double>.ones([200, 100])
        let y = dropout(x)
        let values = Set(y.scalars)
        #expect(values == [0, 1 / 0.75])
        let kept = Double(y.scalars.filter { $0 != 0 }.count) / Double(x.count)
        #expect(abs(kept - 0.75) < 0.01)
        #expect(abs(y.mean().item - 1) < 0.015)
        dropout.setTrainingMode(false)
        #expect(dropout(x).scalars == x.scalars)
    }

    @Test("train() and eval() switch every dropout of the tree")
    func trainEval() {
        var g = RandomGenerator(seed: 4)
        let model = Sequential<Float> {
            Linear(3, 3, generator: &g)
            Dropout(rate: 0.5, seed: 9)
        }
        let x = Tensor<Float>.ones([4, 3])
        model.eval()
        let a = model(x), b = model(x)
        #expect(a.scalars == b.scalars)
        model.train()
        let c = model(x)
        #expect(c.scalars != a.scalars)
    }

    @Test("Dropout masks come from the seeded generator: same seed, same masks")
    func dropoutSeeded() {
        let a = Dropout<Float>(rate: 0.3, seed: 11), b = Dropout<Float>(rate: 0.3, seed: 11)
        let x = Tensor<Float>.ones([10, 10])
        #expect(a(x).scalars == b(x).scalars)
        #expect(a(x).scalars == b(x).scalars)
        let c = Dropout<Float>(rate: 0.3, seed: 12)
        #expect(c(x).scalars != Dropout<Float>(rate: 0.3, seed: 11)(x).scalars)
    }

    @Test("Regularization loss is λ₁Σ|w| + λ₂Σw² over weights and biases of every layer")
    func regularizationValue() {
        let a = Linear(weight: Tensor<Double>(rows: [[1, -2], [3, 0.5]]), bias: Tensor<Double>([1, -1]))
        a.weightL1 = 0.1
        a.weightL2 = 0.01
        a.biasL1 = 0.5
        a.biasL2 = 2
        let b = Linear(weight: Tensor<Double>(rows: [[2], [-1]]), bias: Tensor<Double>([3]))
        b.weightL2 = 1
        let model = Sequential<Double>([a, ReLU(), b])
        let expected = 0.1 * 6.5 + 0.01 * 14.25 + 0.5 * 2 + 2 * 2 + 1 * 5
        #expect(abs(model.regularizationLoss().item - expected) < 1e-12)
        #expect(Sequential<Double>([ReLU()]).regularizationLoss().item == 0)
    }

    @Test("Regularization gradients come from the tape: ∂/∂w = λ₁·sign(w) + 2λ₂·w")
    func regularizationGradient() {
        let a = Linear(weight: Tensor<Double>(rows: [[1, -2]]), bias: Tensor<Double>([0.5, -0.5]))
        a.weightL1 = 0.1
        a.weightL2 = 0.01
        a.biasL2 = 1
        a.regularizationLoss().backward()
        #expect(approximatelyEqual(a.weight.grad!.scalars, [0.1 + 0.02, -0.1 - 0.04], tolerance: 1e-12))
        #expect(approximatelyEqual(a.bias.grad!.scalars, [1, -1], tolerance: 1e-12))
    }
}

@Suite("Initializers")
struct InitializerTests {
    static let cases: [(String, Initializer, Double, Double?)] = [
        // name, rule, expected standard deviation for fanIn 200, fanOut 300, uniform bound
        ("xavierUniform", .xavierUniform, (2.0 / 500).squareRoot(), (6.0 / 500).squareRoot()),
        ("xavierNormal", .xavierNormal, (2.0 / 500).squareRoot(), nil),
        ("heUniform", .heUniform, (2.0 / 200).squareRoot(), (6.0 / 200).squareRoot()),
        ("heNormal", .heNormal, (2.0 / 200).squareRoot(), nil),
        ("tutorialNormal", .tutorialNormal, 0.01, nil),
    ]

    @Test("Random initializers have the documented spread", arguments: cases)
    func spread(name: String, rule: Initializer, std: Double, bound: Double?) {
        var g = RandomGenerator(seed: 5)
        let w: Tensor<Double> = rule.make([200, 300], generator: &g)
        let values = w.scalars
        let mean = values.reduce(0, +) / Double(values.count)
        let sd = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)).squareRoot()
        #expect(abs(mean) < 0.05 * std)
        #expect(abs(sd / std - 1) < 0.02)
        if let bound { #expect(values.allSatisfy { abs($0) <= bound }) }
    }

    @Test("zeros and constant")
    func constants() {
        var g = RandomGenerator(seed: 0)
        let z: Tensor<Float> = Initializer.zeros.make([2, 3], generator: &g)
        let c: Tensor<Float> = Initializer.constant(0.25).make([4], generator: &g)
        #expect(z.scalars == Array(repeating: 0, count: 6))
        #expect(c.scalars == [0.25, 0.25, 0.25, 0.25])
    }

    @Test("Linear uses the generator: same seed, same weights; biases start at zero")
    func seededLinear() {
        var g1 = RandomGenerator(seed: 8), g2 = RandomGenerator(seed: 8)
        let a = Linear<Float>(3, 4, generator: &g1), b = Linear<Float>(3, 4, generator: &g2)
        #expect(a.weight.value.scalars == b.weight.value.scalars)
        #expect(a.bias.value.scalars == [0, 0, 0, 0])
    }
}
