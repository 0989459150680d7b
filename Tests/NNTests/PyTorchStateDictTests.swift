import AutoDiff
import Foundation
import Testing

@testable import NN

/// The PyTorch fixtures (`Fixtures/PyTorch`, made by `make_fixtures.py`): two models with every
/// layer that mirrors a PyTorch module, their `state_dict`s and their outputs in evaluation mode.
enum PyTorchFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Fixtures/PyTorch"
    ).path

    static func file(_ name: String) -> String { directory + "/" + name }

    /// `make_fixtures.py`'s `cnn2d`, with weights of this library's own initialization.
    static func cnn2d() -> Sequential<Float> {
        var g = RandomGenerator(seed: 11)
        return Sequential<Float> {
            Conv2d(2, 4, kernelSize: 3, padding: 1, generator: &g)
            BatchNorm2d(numFeatures: 4)
            ReLU()
            MaxPool2d(kernelSize: 2)
            Conv2d(4, 4, kernelSize: 3, padding: .same, groups: 2, bias: false, generator: &g)
            GroupNorm(numGroups: 2, numChannels: 4)
            GELU()
            AvgPool2d(kernelSize: 2, stride: 1)
            AdaptiveAvgPool2d(outputSize: 2)
            Flatten()
            Linear(16, 8, generator: &g)
            LayerNorm([8])
            SiLU()
            Dropout(rate: 0.25, seed: 1)
            Linear(8, 3, generator: &g)
            LogSoftmax(axis: 1)
        }
    }

    /// `make_fixtures.py`'s `cnn1d`.
    static func cnn1d() -> Sequential<Float> {
        var g = RandomGenerator(seed: 12)
        return Sequential<Float> {
            Conv1d(3, 6, kernelSize: 3, stride: 2, padding: 1, generator: &g)
            BatchNorm1d(numFeatures: 6)
            ELU()
            Conv1d(6, 6, kernelSize: 3, padding: 2, dilation: 2, groups: 6, generator: &g)
            LeakyReLU(slope: 0.1)
            GELU(approximate: .tanh)
            Flatten()
            Linear(24, 5, generator: &g)
            BatchNorm1d(numFeatures: 5)
            Softmax(axis: 1)
        }
    }

    static let models: [(name: String, make: @Sendable () -> Sequential<Float>)] = [("cnn2d", cnn2d), ("cnn1d", cnn1d)]

    /// Whether `python3` can import torch and safetensors (never in CI).
    static let torchAvailable: Bool = PythonInterop.run(["-c", "import torch, safetensors"]).status == 0
}

@Suite("PyTorch state_dict")
struct PyTorchStateDictTests {
    static func mlp(seed: UInt64) -> Sequential<Float> {
        var g = RandomGenerator(seed: seed)
        return Sequential<Float> {
            Linear(3, 4, biasInitializer: .constant(0.25), generator: &g)
            ReLU()
            Linear(4, 2, biasInitializer: .constant(0.25), generator: &g)
        }
    }

    @Test("names and layouts are nn.Sequential's: 0.weight [out, in], 2.bias")
    func namesAndLayouts() {
        let model = Self.mlp(seed: 1)
        let state = model.pytorchStateDict()
        #expect(state.map(\.name) == ["0.weight", "0.bias", "2.weight", "2.bias"])
        #expect(state.map(\.tensor.shape) == [[4, 3], [4], [2, 4], [2]])
        let linear = model.layers[0] as! Linear<Float>
        let w = linear.weight.value.scalars
        // PyTorch's W[o][i] is this library's W[i][o].
        for o in 0..<4 { for i in 0..<3 { #expect(state[0].tensor.scalars[o * 3 + i] == w[i * 4 + o]) } }
    }

    @Test("a saved state_dict loads into a differently initialized model and gives the same outputs")
    func roundTrip() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let source = Self.mlp(seed: 2)
        try source.savePyTorchStateDict(to: dir.file("mlp.safetensors"), metadata: ["from": "swift"])
        let target = Self.mlp(seed: 3)
        let identities = target.parameters.map { ObjectIdentifier($0) }
        #expect(try target.loadPyTorchStateDict(from: dir.file("mlp.safetensors")) == ["from": "swift"])
        #expect(target.parameters.map { ObjectIdentifier($0) } == identities)
        var g = RandomGenerator(seed: 4)
        let x = Tensor<Float>.randomNormal([5, 3], generator: &g)
        #expect(withoutGrad { source(x) }.scalars == withoutGrad { target(x) }.scalars)
    }

    @Test("a file that does not fit names every missing, extra and mis-shaped tensor and changes nothing")
    func mismatch() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let other = Sequential<Float> {
            var g = RandomGenerator(seed: 5)
            Linear(3, 5, generator: &g)
        }
        try other.savePyTorchStateDict(to: dir.file("other.safetensors"))
        let model = Self.mlp(seed: 6)
        let before = model.parameters.map(\.value.scalars)
        #expect {
            try model.loadPyTorchStateDict(from: dir.file("other.safetensors"))
        } throws: { error in
            "\(error)"
                == "safetensors file \(dir.file("other.safetensors")) does not match the model: missing 2.weight, 2.bias; 0.weight has shape [5, 3], the model expects [4, 3]; 0.bias has shape [5], the model expects [4]"
        }
        #expect(model.parameters.map(\.value.scalars) == before)
    }

    @Test("counters are written as I64, and only whole numbers are")
    func integerTensors() throws {
        let bytes = try Safetensors.encode(
            [("count", Tensor<Float>(shape: [], scalars: [7])), ("x", Tensor<Float>(shape: [1], scalars: [0.5]))],
            integerNames: ["count"])
        let header = String(decoding: bytes[8..<(8 + Int(bytes[0]))], as: UTF8.self)
        #expect(header.contains("\"count\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]}"))
        let decoded = try Safetensors.decode(bytes, file: "memory", as: Float.self)
        #expect(decoded.tensors["count"]!.scalars == [7])
        #expect(throws: NNError.self) {
            try Safetensors.encode([("count", Tensor<Float>(shape: [], scalars: [1.5]))], integerNames: ["count"])
        }
    }

    @Test("state_dicts saved by PyTorch load and give PyTorch's outputs within 1e-5", arguments: [0, 1])
    func pytorchFixtures(index: Int) throws {
        let (name, make) = PyTorchFixtures.models[index]
        let model = make()
        try model.loadPyTorchStateDict(from: PyTorchFixtures.file("\(name).safetensors"))
        let expected = try Safetensors.read(contentsOf: PyTorchFixtures.file("expected.safetensors"), as: Float.self)
        model.eval()
        let output = withoutGrad { model(expected.tensors["\(name).input"]!) }
        let reference = expected.tensors["\(name).output"]!
        #expect(output.shape == reference.shape)
        let error = zip(output.scalars, reference.scalars).map { abs($0 - $1) }.max() ?? .infinity
        #expect(error <= 1e-5, "\(name): outputs differ from PyTorch's by up to \(error)")
    }

    @Test(
        "a model saved here has PyTorch's names, shapes and dtypes, and round-trips the fixture exactly",
        arguments: [0, 1])
    func savedLikePyTorch(index: Int) throws {
        let (name, make) = PyTorchFixtures.models[index]
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let model = make()
        let fixture = PyTorchFixtures.file("\(name).safetensors")
        try model.loadPyTorchStateDict(from: fixture)
        try model.savePyTorchStateDict(to: dir.file("saved.safetensors"))
        func header(_ path: String) throws -> [String: [String: AnyHashable]] {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            let n = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            let json = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as! [String: Any]
            return json.filter { $0.key != "__metadata__" }.mapValues { entry in
                let entry = entry as! [String: Any]
                return ["dtype": entry["dtype"] as! String, "shape": entry["shape"] as! [Int]]
            }
        }
        #expect(try header(dir.file("saved.safetensors")) == header(fixture))
        let original = try Safetensors.read(contentsOf: fixture, as: Float.self).tensors
        let saved = try Safetensors.read(contentsOf: dir.file("saved.safetensors"), as: Float.self).tensors
        for (key, value) in original { #expect(saved[key]?.scalars == value.scalars, "\(key)") }
    }

    @Test(
        "a model saved here loads into the PyTorch module with load_state_dict(strict=True) and gives its outputs",
        .enabled(if: PyTorchFixtures.torchAvailable, "python3 cannot import torch and safetensors (not needed in CI)"),
        arguments: [0, 1])
    func loadsInPyTorch(index: Int) throws {
        let (name, make) = PyTorchFixtures.models[index]
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let model = make()
        // Running statistics off their initial values, as a trained model's are.
        model.train()
        var g = RandomGenerator(seed: 13)
        let shape = name == "cnn2d" ? [3, 2, 8, 8] : [3, 3, 8]
        for _ in 0..<2 { _ = withoutGrad { model(Tensor<Float>.randomNormal(shape, generator: &g)) } }
        model.eval()
        let input = Tensor<Float>.randomNormal(shape, generator: &g)
        try model.savePyTorchStateDict(to: dir.file("state.safetensors"))
        try Safetensors.write(
            [("input", input), ("expected", withoutGrad { model(input) })], to: dir.file("fixture.safetensors"))
        let result = PythonInterop.run([
            PyTorchFixtures.file("load_in_pytorch.py"), name, dir.file("state.safetensors"),
            dir.file("fixture.safetensors"),
        ])
        #expect(result.status == 0, "load_in_pytorch.py failed: \(result.stderr)")
    }
}

@Suite("README: PyTorch weights in and out")
struct PyTorchReadmeExampleTests {
    @Test("the README's example builds, saves and loads")
    func readmeExample() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // The README's code, with its two paths in a temporary folder; the file it loads is one
        // this model saved, with PyTorch's names.
        var g = RandomGenerator(seed: 0)
        let model = Sequential<Float> {
            Conv2d(1, 16, kernelSize: 3, padding: 1, generator: &g); BatchNorm2d(numFeatures: 16); ReLU()
            MaxPool2d(kernelSize: 2); Flatten(); Linear(16 * 14 * 14, 10, generator: &g)
        }
        try model.savePyTorchStateDict(to: dir.file("model.safetensors"))
        try model.loadPyTorchStateDict(from: dir.file("model.safetensors"))
        try model.savePyTorchStateDict(to: dir.file("back.safetensors"))
        let names = try Safetensors.read(contentsOf: dir.file("back.safetensors"), as: Float.self).tensors.keys.sorted()
        #expect(
            names == [
                "0.bias", "0.weight", "1.bias", "1.num_batches_tracked", "1.running_mean", "1.running_var", "1.weight",
                "5.bias", "5.weight",
            ])
        model.eval()
        #expect(withoutGrad { model(Tensor<Float>.zeros([2, 1, 28, 28])) }.shape == [2, 10])
    }
}
