import ArgumentParser

/// `demos spiral`: the book's three-armed spiral, with L2, dropout and Adam with decay.
struct SpiralCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spiral",
        abstract: "Three-class spiral data with softmax cross-entropy, L2, dropout and Adam with decay.",
        discussion: """
            1000 samples per class for training and a separately drawn validation set. Writes \
            spiral-curves.svg and spiral-regions.svg.
            """)

    @OptionGroup var options: TrainingOptions<SpiralDefaults>

    func run() throws {
        let settings = try DistributedDemo.prepare(options.settings)
        let session = DemoSession(demo: "spiral", settings: settings, heldOutName: "validation")
        let result = try SpiralDemo.train(settings: settings, progress: session.progress)
        try session.finish(result)
    }
}
