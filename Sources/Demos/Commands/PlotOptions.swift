import ArgumentParser

/// `--plot DIR` and `--no-plot`, shared by every demo (`@OptionGroup`).
struct PlotOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Folder for the SVG plots; created when missing.", valueName: "dir"))
    var plot: String = "demos-output"

    @Flag(help: "Write no plots. (default: off)")
    var noPlot = false

    func validate() throws {
        if !noPlot, plot.isEmpty {
            throw ValidationError("--plot '' is not a folder: expected a folder path (or --no-plot)")
        }
    }

    /// The folder to write plots to; `nil` with `--no-plot`.
    var directory: String? { noPlot ? nil : plot }
}
