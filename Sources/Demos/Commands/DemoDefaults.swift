/// The default hyperparameters of one demo.
///
/// ``TrainingOptions`` is generic over this protocol so that each subcommand shows, and uses, its
/// own defaults while all three share one definition of the options. Tune a demo here.
protocol DemoDefaults {
    static var epochs: Int { get }
    static var batchSize: Int { get }
    static var learningRate: Double { get }
    static var learningRateDecay: Double { get }
    static var optimizer: OptimizerChoice { get }
    static var hidden: String { get }
    static var dropout: Double { get }
    static var l1: Double { get }
    static var l2: Double { get }
    static var seed: UInt64 { get }
}

/// `demos moons`: 1000 two-moons samples (noise 0.2), 2-16-16-1 ReLU MLP, Adam.
///
/// 800 training samples in batches of 64 give 13 steps per epoch, about 3,900 steps in all:
/// plenty for a test accuracy ≥ 0.97 in a few seconds.
enum MoonsDefaults: DemoDefaults {
    static let epochs = 300
    static let batchSize = 64
    static let learningRate = 0.01
    static let learningRateDecay = 0.0
    static let optimizer = OptimizerChoice.adam
    static let hidden = "16,16"
    static let dropout = 0.0
    static let l1 = 0.0
    static let l2 = 0.0
    static let seed: UInt64 = 42
}

/// `demos spiral`: the book's 3-class spiral (1000 samples per class), 2-512-3, full batch.
///
/// These are the book's settings for its 0.857–0.92 validation accuracy: Adam lr 0.05 with
/// decay 5e-5, L2 5e-4 and dropout 0.1, 10,000 full-batch epochs (3,000 samples).
enum SpiralDefaults: DemoDefaults {
    static let epochs = 10_000
    static let batchSize = 3_000
    static let learningRate = 0.05
    static let learningRateDecay = 5e-5
    static let optimizer = OptimizerChoice.adam
    static let hidden = "512"
    static let dropout = 0.1
    static let l1 = 0.0
    static let l2 = 5e-4
    static let seed: UInt64 = 42
}

/// `demos mnist`: 784-512-128-64-10 ReLU MLP, Adam lr 1e-3, batch 128, inputs in [0, 1].
enum MNISTDefaults: DemoDefaults {
    static let epochs = 15
    static let batchSize = 128
    static let learningRate = 1e-3
    static let learningRateDecay = 0.0
    static let optimizer = OptimizerChoice.adam
    static let hidden = "512,128,64"
    static let dropout = 0.0
    static let l1 = 0.0
    static let l2 = 0.0
    static let seed: UInt64 = 42
}
