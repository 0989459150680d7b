/// Training for `demos mnist`.
enum MNISTDemo {
    /// INTEGRATION SEAM — fill in once the NN module lands; everything around it is done.
    ///
    /// To do here, with NN: read `files` with the IDX reader (raw or .gz; a corrupt file throws
    /// ``DemoError/message(_:)`` naming it), scale inputs to [0, 1]; a ReLU MLP 784 →
    /// `settings.hidden` → 10 with softmax cross-entropy, `settings.dropout`, `settings.l1`/`l2`;
    /// load `settings.loadPath` when set (a shape mismatch is a one-line ``DemoError``); train
    /// `settings.epochs` epochs of shuffled batches of `settings.batchSize`, reporting every step
    /// to `progress` and the test loss/accuracy at each `endEpoch`; save to `settings.savePath`
    /// with ``AtomicFile`` when set; return the final metrics, the test labels and predictions,
    /// and access to the test images.
    static func train(
        settings: TrainingSettings, dataset: MNISTDataset, files: MNISTFiles, progress: TrainingProgress
    ) throws -> ImageClassifierResult {
        throw DemoError.notYetWired(
            demo: dataset.displayName, seam: "MNISTDemo.train(settings:dataset:files:progress:)")
    }
}
