/// Training for `demos moons`.
enum MoonsDemo {
    /// INTEGRATION SEAM — fill in once the NN module lands; everything around it is done.
    ///
    /// To do here, with NN: make_moons (1000 samples, noise 0.2, seeded by `settings.seed`) split
    /// into train and test; a ReLU MLP 2 → `settings.hidden` → 1 (logit output, binary
    /// cross-entropy with logits, `settings.dropout`, `settings.l1`/`l2`); load `settings.loadPath`
    /// when set; train `settings.epochs` epochs with `settings.optimizer`, `learningRate`,
    /// `learningRateDecay` and `batchSize`, reporting to `progress` (`begin(epoch:steps:)`,
    /// `step(loss:accuracy:samples:)`, `endEpoch(_:)` with the test loss/accuracy as the
    /// validation fields); save to `settings.savePath` with ``AtomicFile`` when set; return the
    /// final metrics, the test points and a batch classifier. Do not call `progress.finish`: the
    /// command does, after the plots.
    static func train(settings: TrainingSettings, progress: TrainingProgress) throws -> PlanarClassifierResult {
        throw DemoError.notYetWired(demo: "moons", seam: "MoonsDemo.train(settings:progress:)")
    }
}
