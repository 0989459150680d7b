import Foundation
import NN

/// `--save` and `--load`: the model's parameters as one safetensors file, through NN's
/// `saveParameters`/`loadParameters` (atomic write; validated read).
///
/// The file holds only the parameters (`layers.0.weight`, …) and metadata saying which demo and
/// widths wrote it, so it also opens in Python (`safetensors.numpy.load_file`). Training
/// continued from it starts a fresh optimizer.
enum ModelFile {
    /// The metadata written with the parameters.
    static func metadata(demo: String, settings: TrainingSettings, inputs: Int, outputs: Int) -> [String: String] {
        [
            "demo": demo,
            "hidden": settings.hidden.map(String.init).joined(separator: ","),
            "inputs": String(inputs),
            "outputs": String(outputs),
            "seed": String(settings.seed),
        ]
    }

    /// Loads `path` into `model` in place.
    /// - Throws: ``DemoError/message(_:)`` in one line: unreadable or corrupt file (NN's message
    ///   names the problem), or a file for another model (the mismatched tensors, and which demo
    ///   and widths saved it when the file says).
    static func load(_ path: String, into model: Sequential<Float>) throws {
        do {
            try model.loadParameters(from: path)
        } catch NNError.parameterMismatch(let file, let problem) {
            throw DemoError.message(
                "--load: \(file) does not fit this model (\(problem))\(origin(of: path))")
        } catch {
            throw DemoError.message("--load: \(error)")
        }
    }

    /// Saves `model` to `path` atomically, creating missing parent folders.
    /// - Returns: `path`, for the summary's list of files written.
    static func save(_ model: Sequential<Float>, to path: String, metadata: [String: String]) throws -> String {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try model.saveParameters(to: path, metadata: metadata)
        } catch let error as NNError {
            throw DemoError.message("--save: \(error)")
        } catch {
            throw DemoError.message("--save: cannot create folder '\(folder.path)' for '\(path)'")
        }
        return path
    }

    /// `: it was saved by demos spiral --hidden 512` (or `demos mnist --model cnn --hidden 128`) when the file's metadata says so, so the user
    /// sees which options would load it; empty otherwise.
    private static func origin(of path: String) -> String {
        guard let contents = try? Safetensors.read(contentsOf: path, as: Float.self),
            let demo = contents.metadata["demo"], let hidden = contents.metadata["hidden"]
        else { return "" }
        let command = demo.hasSuffix("mnist") ? "mnist" : demo
        let dataset = demo == "fashion-mnist" ? " --dataset fashion" : ""
        let model = contents.metadata["model"].map { $0 == "mlp" ? "" : " --model \($0)" } ?? ""
        return ": it was saved by `demos \(command)\(dataset)\(model) --hidden \(hidden)`"
    }
}
