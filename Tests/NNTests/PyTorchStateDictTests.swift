import AutoDiff
import Foundation
import Testing

@testable import NN

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
}
