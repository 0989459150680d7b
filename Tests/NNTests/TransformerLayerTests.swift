import AutoDiff
import Foundation
import GradCheck
import Testing

@testable import NN

/// The transformer layers: shapes and nanoGPT's parameter names, gradients in Double, causal
/// masking, dropout, and a block's output against PyTorch's (`scripts/fixtures/attention_values.py`).
@Suite("Transformer layers: MultiHeadAttention, PositionalEmbedding, TransformerBlock")
struct TransformerLayerTests {
    /// nanoGPT's `Block.state_dict()` keys, in its order.
    static let nanoGPTBlockKeys = [
        "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight", "attn.c_proj.bias",
        "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias",
    ]

    @Test("shapes, and parameters under nanoGPT's names in PyTorch's layouts")
    func shapesAndNames() {
        var generator = RandomGenerator(seed: 3)
        let block = TransformerBlock<Float>(embedDim: 16, heads: 4, generator: &generator)
        let x = Tensor<Float>(converting: GradCheck.input([2, 5, 16], seed: 1))
        #expect(block(x).shape == [2, 5, 16])
        #expect(block.attention(x).shape == [2, 5, 16])
        let state = block.pytorchStateDict()
        #expect(state.map(\.name) == Self.nanoGPTBlockKeys)
        let shapes = Dictionary(uniqueKeysWithValues: state.map { ($0.name, $0.tensor.shape) })
        #expect(shapes["attn.c_attn.weight"] == [48, 16] && shapes["attn.c_attn.bias"] == [48])
        #expect(shapes["mlp.c_fc.weight"] == [64, 16] && shapes["mlp.c_proj.weight"] == [16, 64])
        // PyTorch's nn.Linear draws weights and biases from U(±1/√fanIn).
        let qkv = block.attention.namedParameters.first { $0.name == "c_attn.weight" }!.parameter.value.scalars
        #expect(qkv.allSatisfy { Swift.abs($0) <= 0.25 } && qkv.contains { Swift.abs($0) > 0.2 })

        let unbiased = MultiHeadAttention<Float>(embedDim: 8, heads: 2, bias: false, generator: &generator)
        #expect(unbiased.pytorchStateDict().map(\.name) == ["c_attn.weight", "c_proj.weight"])
        #expect(unbiased.pytorchStateDict().map(\.tensor.shape) == [[24, 8], [8, 8]])
        #expect(unbiased(Tensor<Float>.ones([1, 3, 8])).shape == [1, 3, 8])

        let positions = PositionalEmbedding<Float>(contextLength: 6, embedDim: 16, generator: &generator)
        #expect(positions.namedParameters.map(\.name) == ["weight"] && positions.weight.shape == [6, 16])
        let shifted = positions(x)
        #expect(shifted.shape == [2, 5, 16])
        // Position t of every sequence gets row t of the table.
        let table = positions.weight.value.scalars
        let element = 16 * 5 + 16 * 3 + 2
        let expected: Float = x.scalars[element] + table[16 * 3 + 2]
        #expect(shifted.scalars[element] == expected)
    }

    @Test("a tiny block's gradients pass GradCheck in Double, w.r.t. the input and every parameter")
    func gradCheck() {
        var generator = RandomGenerator(seed: 11)
        let block = TransformerBlock<Double>(embedDim: 4, heads: 2, generator: &generator)
        let positions = PositionalEmbedding<Double>(contextLength: 3, embedDim: 4, generator: &generator)
        let params = positions.parameters + block.parameters
        // LayerNorm's weight and bias start at 1 and 0: move them off, so every term matters.
        let initial = params.enumerated().map { i, p in
            p.value.detached() + Tensor<Double>(converting: GradCheck.input(p.shape, seed: UInt64(60 + i))) * 0.3
        }
        let x = GradCheck.input([2, 3, 4], seed: 12)
        let weights = Tensor<Double>(converting: GradCheck.input([2, 3, 4], seed: 13))
        let report = GradCheck.check(
            { xs in
                for (p, v) in zip(params, xs.dropFirst()) { p.value = v }
                return (block(positions(xs[0])) * weights).sum()
            }, at: [x] + initial)
        #expect(report.passed, "\(report)")
    }

    @Test("causal: changing a later position leaves every earlier output exactly as it was", arguments: [1, 3])
    func causalMasking(changed: Int) {
        var generator = RandomGenerator(seed: 21)
        let block = TransformerBlock<Float>(embedDim: 16, heads: 4, generator: &generator)
        let x = Tensor<Float>(converting: GradCheck.input([2, 5, 16], seed: 22))
        var values = x.scalars
        // Not the same amount at every feature: a pre-LayerNorm block cannot see a constant added
        // to a whole position (the normalization removes it), only through the residual.
        for sequence in 0..<2 {
            for j in 0..<16 { values[(sequence * 5 + changed) * 16 + j] += 0.5 + 0.1 * Float(j) }
        }
        let (before, after) = (block(x).scalars, block(Tensor(shape: [2, 5, 16], scalars: values)).scalars)
        for sequence in 0..<2 {
            let earlier = (sequence * 5 * 16)..<((sequence * 5 + changed) * 16)
            #expect(Array(before[earlier]) == Array(after[earlier]))
            let rest = ((sequence * 5 + changed) * 16)..<((sequence + 1) * 5 * 16)
            #expect(Array(before[rest]) != Array(after[rest]))
        }
        // Not causal: earlier positions see the change too.
        let open = TransformerBlock<Float>(embedDim: 16, heads: 4, causal: false, generator: &generator)
        #expect(
            Array(open(x).scalars[0..<16]) != Array(open(Tensor(shape: [2, 5, 16], scalars: values)).scalars[0..<16]))
    }

    @Test("dropout on the attention weights and the output: on in training, reproducible from the seed, off in eval")
    func dropout() {
        func model() -> MultiHeadAttention<Float> {
            var generator = RandomGenerator(seed: 31)
            return MultiHeadAttention(embedDim: 8, heads: 2, dropout: 0.3, generator: &generator)
        }
        let (a, b) = (model(), model())
        let x = Tensor<Float>(converting: GradCheck.input([2, 4, 8], seed: 32))
        let trained = a(x).scalars
        #expect(trained == b(x).scalars)
        a.eval()
        let evaluated = a(x).scalars
        #expect(trained != evaluated)
        var generator = RandomGenerator(seed: 31)
        let plain = MultiHeadAttention<Float>(embedDim: 8, heads: 2, generator: &generator)
        #expect(plain(x).scalars == evaluated)
    }

    @Test("a block with fixed weights gives PyTorch's output (nanoGPT's Block, width 8, 2 heads)")
    func againstPyTorch() throws {
        var generator = RandomGenerator(seed: 0)
        let block = TransformerBlock<Double>(embedDim: 8, heads: 2, generator: &generator)
        // Element k of the tensor named n: 0.3·sin(0.37·k + s), s = (Σ bytes of n mod 97)·0.1,
        // plus 1 for the LayerNorm weights (the fixture script's formula), written as PyTorch's
        // state_dict and loaded under nanoGPT's names.
        let state = block.pytorchStateDict().map { name, tensor in
            let s = Double(name.utf8.reduce(0) { $0 + Int($1) } % 97) * 0.1
            let one = name.hasPrefix("ln_") && name.hasSuffix(".weight") ? 1.0 : 0
            let values = (0..<tensor.count).map { one + 0.3 * sin(0.37 * Double($0) + s) }
            return (name: name, tensor: Tensor<Double>(shape: tensor.shape, scalars: values))
        }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try Safetensors.write(state, to: directory.file("block.safetensors"))
        try block.loadPyTorchStateDict(from: directory.file("block.safetensors"))
        let x = Tensor<Double>(
            shape: [2, 3, 8],
            scalars: (0..<48).map { k -> Double in 1.5 * sin(0.5 * Double(k)) + 0.1 * Double(k % 3) })
        let out: [Double] = block(x).scalars
        #expect(out.count == Self.blockOutput.count)
        for (i, (a, b)) in zip(out, Self.blockOutput).enumerated() {
            let tolerance: Double = 1e-12 * Swift.max(1, Swift.abs(b))
            #expect(Swift.abs(a - b) <= tolerance, "element \(i): \(a), PyTorch \(b)")
        }
    }

    static let blockOutput: [Double] = [
        0.7501505121751946, 0.9554376849614681, 0.5316052915596033, 0.536449100735926, 0.1938372685356179,
        0.8218971022403474, 0.050389142027746026, 0.3300165675541954, -1.7552193014006159, -2.0331255021067363,
        -1.6002711962574474, -0.29144825503611904, 0.12167226162816258, 1.116651326954403, 0.881720734949514,
        0.7618916717562458, 1.810405988022049, 1.652742132057528, 0.5685197563006299, 0.15703484253877287,
        -1.1223248169764075, -1.427160671079691, -2.3357770456071965, -1.3231965193711417, -0.654608774136477,
        0.6938419674956289, 1.388095160314231, 1.8270149640882694, 1.3075407774002081, 1.0871651319395683,
        -0.3741167364942223, -0.5477840101565096, -0.35849156570063745, -1.697267214392403, -2.3254946196730866,
        -1.7108202603800489, -1.4498704102476974, 0.13676042719766363, 0.5755831018356196, 1.3357259208009105,
        1.5680780631921203, 1.6429509602125463, 1.0206469859634388, 0.9044899051581989, -0.18632722530898083,
        -0.5752521848285113, -1.8848917710019222, -1.3535756057906796,
    ]
}
