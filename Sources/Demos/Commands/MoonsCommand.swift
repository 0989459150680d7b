import ArgumentParser

/// `demos moons`: a small MLP separates two interleaving half circles.
struct MoonsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "moons",
        abstract: "Binary classification of two interleaving half moons (make_moons) with a small MLP.",
        discussion: """
            1000 samples with noise 0.2, 20 % held out for testing; a ReLU MLP with a logit output \
            and binary cross-entropy. Writes moons-curves.svg and moons-regions.svg.
            """)

    @OptionGroup var options: TrainingOptions<MoonsDefaults>

    func run() throws {
        let settings = try DistributedDemo.prepare(options.settings)
        let session = DemoSession(demo: "moons", settings: settings, heldOutName: "test")
        let result = try MoonsDemo.train(settings: settings, progress: session.progress)
        try session.finish(result)
    }
}
