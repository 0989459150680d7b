import AutoDiff
import NN

/// The model and optimizer every demo trains: a ReLU MLP built from the options.
///
/// Each hidden layer is `Linear → ReLU → Dropout`, then a final `Linear` to the logits:
///
/// ```
/// layers.0 Linear(inputs, h₀)   layers.1 ReLU   layers.2 Dropout(p)
/// layers.3 Linear(h₀, h₁)       layers.4 ReLU   layers.5 Dropout(p)
/// …
/// layers.3k Linear(h_last, outputs)
/// ```
///
/// The dropout layer is there even when `--dropout 0` (then it is the identity), so parameter
/// names, and therefore saved files, do not depend on the dropout rate: a model trained with
/// `--dropout 0.1` loads into a run with `--dropout 0`.
///
/// `--l1`/`--l2` penalize the weights and biases of the hidden layers, as the book does for its
/// spiral model (`weight_regularizer_l2` and `bias_regularizer_l2` on the hidden layer); the
/// output layer is left free.
enum ClassifierModel {
    /// A fresh model for `settings`, initialised from `settings.seed` (He-uniform weights, the
    /// usual choice before a ReLU; zero biases).
    static func make(inputs: Int, outputs: Int, settings: TrainingSettings) -> Sequential<Float> {
        var generator = RandomGenerator(seed: settings.seed)
        return Sequential<Float>(
            perceptron(inputs: inputs, outputs: outputs, settings: settings, generator: &generator) { _ in
                (.heUniform, .zeros)
            })
    }

    /// `Linear → ReLU → Dropout` for each `--hidden` width, then a `Linear` to `outputs`; the
    /// hidden layers carry `--l1`/`--l2`. `initializers` gives a linear layer's weight and bias
    /// initializers from its input width.
    private static func perceptron(
        inputs: Int, outputs: Int, settings: TrainingSettings, generator: inout RandomGenerator,
        initializers: (_ inputs: Int) -> (weight: Initializer, bias: Initializer)
    ) -> [any Layer<Float>] {
        let l1 = Float(settings.l1)
        let l2 = Float(settings.l2)
        let widths = [inputs] + settings.hidden
        var layers: [any Layer<Float>] = []
        for index in 0..<settings.hidden.count {
            let (weight, bias) = initializers(widths[index])
            layers.append(
                Linear<Float>(
                    widths[index], widths[index + 1], weightInitializer: weight, biasInitializer: bias,
                    weightL1: l1, weightL2: l2, biasL1: l1, biasL2: l2, generator: &generator))
            layers.append(ReLU<Float>())
            // A seed per layer, apart from the initialization's, so masks never repeat weights' draws.
            layers.append(Dropout<Float>(rate: Float(settings.dropout), seed: settings.seed &+ 1_000 &+ UInt64(index)))
        }
        let (weight, bias) = initializers(widths[widths.count - 1])
        layers.append(
            Linear<Float>(
                widths[widths.count - 1], outputs, weightInitializer: weight, biasInitializer: bias,
                generator: &generator))
        return layers
    }

    /// The convolutional network of `demos mnist --model cnn` for `[N, 1, height, width]` images,
    /// the model of `../shared/peers/torch_models.py cnn-mnist` at the default options:
    ///
    /// ```
    /// layers.0 Conv2d(1, 16, 3, padding 1)   layers.1 BatchNorm2d(16)  layers.2 ReLU  layers.3 MaxPool2d(2)
    /// layers.4 Conv2d(16, 32, 3, padding 1)  layers.5 BatchNorm2d(32)  layers.6 ReLU  layers.7 MaxPool2d(2)
    /// layers.8 Flatten
    /// for each --hidden width h (default 128): Linear(·, h), ReLU, Dropout(--dropout, default 0.25)
    /// Linear(·, outputs)
    /// ```
    ///
    /// Every layer is initialized as PyTorch's (convolutions and linear layers uniform in
    /// `±1/√fanIn`), from `settings.seed`; `--l1`/`--l2` penalize the hidden linear layers, as
    /// in the MLP.
    static func convolutional(height: Int, width: Int, outputs: Int, settings: TrainingSettings) -> Sequential<Float> {
        var generator = RandomGenerator(seed: settings.seed)
        var layers: [any Layer<Float>] = []
        var channels = 1
        for next in convolutionChannels {
            layers += [
                Conv2d<Float>(channels, next, kernelSize: 3, padding: 1, generator: &generator),
                BatchNorm2d<Float>(numFeatures: next), ReLU<Float>(), MaxPool2d<Float>(kernelSize: 2),
            ]
            channels = next
        }
        layers.append(Flatten<Float>())
        layers += perceptron(
            inputs: convolutionFeatures(height: height, width: width), outputs: outputs, settings: settings,
            generator: &generator
        ) { inputs in (.pytorchLinear(inputs: inputs), .pytorchLinear(inputs: inputs)) }
        return Sequential<Float>(layers)
    }

    /// The output channels of the convolutional network's two blocks.
    static let convolutionChannels = [16, 32]

    /// The features the convolutional blocks hand to the first linear layer: 32 channels of the
    /// image halved twice (rounded down, as max pooling does): 32 · 7 · 7 = 1568 for 28 × 28.
    static func convolutionFeatures(height: Int, width: Int) -> Int {
        convolutionChannels.last! * (height / 4) * (width / 4)
    }

    /// The optimizer named by `--optimizer`, with `--lr` and `--lr-decay` (the book's
    /// `lr / (1 + decay · step)`).
    ///
    /// `sgd` uses momentum 0.9 (plain SGD at the demos' small rates barely moves); the Adam family
    /// uses the book's ε = 1e-7; `adamw` decouples a weight decay of 0.01 (PyTorch's default) on
    /// top of any `--l2`.
    static func optimizer(for model: Sequential<Float>, settings: TrainingSettings) -> Optimizer<Float> {
        let parameters = model.parameters
        let rate = settings.learningRate
        let schedule: LearningRateSchedule =
            settings.learningRateDecay > 0 ? .inverseTimeDecay(settings.learningRateDecay) : .constant
        switch settings.optimizer {
        case .sgd:
            return SGD(parameters: parameters, learningRate: rate, momentum: 0.9, schedule: schedule)
        case .adam:
            return Adam(parameters: parameters, learningRate: rate, epsilon: 1e-7, schedule: schedule)
        case .amsgrad:
            return Adam(parameters: parameters, learningRate: rate, epsilon: 1e-7, amsgrad: true, schedule: schedule)
        case .adamw:
            return AdamW(parameters: parameters, learningRate: rate, epsilon: 1e-7, schedule: schedule)
        case .rmsprop:
            return RMSprop(parameters: parameters, learningRate: rate, schedule: schedule)
        case .adagrad:
            return Adagrad(parameters: parameters, learningRate: rate, schedule: schedule)
        }
    }
}
