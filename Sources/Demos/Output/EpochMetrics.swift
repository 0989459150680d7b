/// What one epoch of training measured: the points of the loss and accuracy curves.
struct EpochMetrics: Codable, Equatable, Sendable {
    /// The epoch number, from 1.
    var epoch: Int
    /// Mean training loss over the epoch's batches (with dropout active, as trained).
    var trainLoss: Double
    /// Training accuracy over the epoch, in [0, 1].
    var trainAccuracy: Double
    /// Loss on the held-out split (test or validation), if evaluated this epoch.
    var validationLoss: Double?
    /// Accuracy on the held-out split, in [0, 1], if evaluated this epoch.
    var validationAccuracy: Double?
    /// The learning rate at the end of the epoch, if the optimizer reports one.
    var learningRate: Double?

    init(
        epoch: Int, trainLoss: Double, trainAccuracy: Double,
        validationLoss: Double? = nil, validationAccuracy: Double? = nil, learningRate: Double? = nil
    ) {
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.trainAccuracy = trainAccuracy
        self.validationLoss = validationLoss
        self.validationAccuracy = validationAccuracy
        self.learningRate = learningRate
    }
}
