import AutoDiff
import Foundation
import Testing

@testable import NN

enum PythonInterop {
    /// Runs `python3` with `arguments`; returns the exit status, standard output and standard
    /// error (both small: the scripts print a line per file at most).
    static func launch(_ arguments: [String]) -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let (output, errors) = (Pipe(), Pipe())
        process.standardOutput = output
        process.standardError = errors
        do { try process.run() } catch { return (-1, "", "\(error)") }
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    /// Runs `python3` with `arguments`; returns the exit status and standard error.
    static func run(_ arguments: [String]) -> (status: Int32, stderr: String) {
        let result = launch(arguments)
        return (result.status, result.stderr)
    }

    /// Runs `python3` with `arguments` and returns its standard output; throws when it fails.
    static func output(_ arguments: [String]) throws -> String {
        struct Failed: Error, CustomStringConvertible { let description: String }
        let result = launch(arguments)
        guard result.status == 0 else { throw Failed(description: "python3 failed: \(result.stderr)") }
        return result.stdout
    }

    /// Whether `python3 -c "import safetensors, numpy"` succeeds.
    static let available: Bool = run(["-c", "import safetensors, numpy"]).status == 0

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Python/interop.py"
    ).path
}

@Suite("Python interop")
struct PythonInteropTests {
    static func model(seed: UInt64) -> Sequential<Float> {
        var g = RandomGenerator(seed: seed)
        return Sequential<Float> {
            Linear(3, 5, biasInitializer: .constant(0.1), generator: &g)
            Tanh()
            Linear(5, 4, biasInitializer: .constant(0.2), generator: &g)
            ReLU()
            Linear(4, 2, biasInitializer: .constant(-0.3), generator: &g)
        }
    }

    @Test(
        "NumPy reproduces a saved model's outputs within 1e-5, and a file written by Python loads here",
        .enabled(
            if: PythonInterop.available,
            "python3 with numpy and safetensors is not installed (pip install numpy safetensors)"))
    func roundTripThroughPython() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let model = Self.model(seed: 5)
        var g = RandomGenerator(seed: 6)
        let input = Tensor<Float>.randomNormal([7, 3], generator: &g)
        let output = withoutGrad { model(input) }
        try model.saveParameters(to: dir.file("model.safetensors"))
        try Safetensors.write([("input", input), ("expected", output)], to: dir.file("fixture.safetensors"))

        let result = PythonInterop.run([
            PythonInterop.script, dir.file("model.safetensors"), dir.file("fixture.safetensors"),
            dir.file("python.safetensors"),
        ])
        #expect(result.status == 0, "interop.py failed: \(result.stderr)")
        guard result.status == 0 else { return }

        let loaded = Self.model(seed: 7)
        let metadata = try loaded.loadParameters(from: dir.file("python.safetensors"))
        #expect(metadata == ["writer": "python"])
        for p in loaded.namedParameters {
            let expected = (0..<p.parameter.value.count).map { Float($0) * Float(0.01) - Float(0.1) }
            #expect(
                approximatelyEqual(doubles(p.parameter.value), expected.map(Double.init), tolerance: 1e-7), "\(p.name)")
        }
    }
}
