/// Training for `demos spiral`.
enum SpiralDemo {
    /// INTEGRATION SEAM — fill in once the NN module lands; everything around it is done.
    ///
    /// To do here, with NN: the book's spiral data (3 classes × 1000 samples) for training and a
    /// separately drawn validation set of the same size (seeded by `settings.seed`); a ReLU MLP
    /// 2 → `settings.hidden` → 3 with softmax cross-entropy, `settings.dropout` after hidden
    /// layers and `settings.l1`/`l2` on the weights; load `settings.loadPath` when set; train
    /// `settings.epochs` epochs (batch ≥ 3000 = full batch) with `settings.optimizer`,
    /// `learningRate` and `learningRateDecay`, reporting to `progress` with the validation
    /// loss/accuracy; save to `settings.savePath` with ``AtomicFile`` when set; return the final
    /// metrics (validation in the test fields), the validation points and a batch classifier.
    static func train(settings: TrainingSettings, progress: TrainingProgress) throws -> PlanarClassifierResult {
        throw DemoError.notYetWired(demo: "spiral", seam: "SpiralDemo.train(settings:progress:)")
    }
}
