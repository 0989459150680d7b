import AutoDiff
import Foundation
import GradCheck
import Testing

/// Scaled dot-product attention against PyTorch's values (`scripts/fixtures/attention_values.py`
/// prints them) on both devices, against the composed expression `softmax(QKᵀ·s + mask)·V`,
/// on fully masked rows, and CPU against reference at every thread count at the sizes of a small
/// transformer.
@Suite("Scaled dot-product attention")
struct AttentionTests {
    static let devices: [Device] = [.cpu, .reference]

    /// `count` values `f(k)` for k = 0, 1, … (the fixture script's `filled`).
    static func filled(_ shape: [Int], on device: Device, _ f: (Double) -> Double) -> Tensor<Double> {
        Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { f(Double($0)) }, on: device)
    }

    /// The fixture's inputs (query, key, value, tracked) and the gradients of `Σ out ⊙ upstream`.
    static func run(
        _ shapes: [[Int]], on device: Device, mask: Tensor<Double>? = nil, causal: Bool = false,
        scale: Double? = nil
    ) -> (out: [Double], grads: [[Double]]) {
        let q = filled(shapes[0], on: device) { sin(0.3 * $0 + 0.1) }.requiringGrad()
        let k = filled(shapes[1], on: device) { cos(0.45 * $0 - 0.2) }.requiringGrad()
        let v = filled(shapes[2], on: device) { 1.5 * sin(0.7 * $0 + 0.5) }.requiringGrad()
        let out = Tensor.scaledDotProductAttention(query: q, key: k, value: v, mask: mask, causal: causal, scale: scale)
        let upstream = filled(out.shape, on: device) { sin(0.9 * $0) + 0.2 }
        (out * upstream).sum().backward()
        return (out.scalars, [q, k, v].map { $0.grad!.scalars })
    }

    func expectClose(_ a: [Double], _ b: [Double], _ what: String, tolerance: Double = 1e-12) {
        ConvolutionValueTests().expectClose(a, b, what, tolerance: tolerance)
    }

    @Test("causal attention [1, 2, 3, 4] and its gradients equal PyTorch's", arguments: devices)
    func causal(device: Device) {
        let (out, grads) = Self.run([[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]], on: device, causal: true)
        expectClose(out, Self.causalOutput, "output")
        expectClose(grads[0], Self.causalGradQuery, "∂query")
        expectClose(grads[1], Self.causalGradKey, "∂key")
        expectClose(grads[2], Self.causalGradValue, "∂value")
    }

    @Test("attention with an additive mask and scale 0.6, and its gradients, equal PyTorch's", arguments: devices)
    func masked(device: Device) {
        var mask = Self.filled([3, 4], on: .cpu) { 0.1 * Double(Int($0) % 5) - 0.2 }.scalars
        mask[1] = -.infinity
        mask[11] = -.infinity
        let (out, grads) = Self.run(
            [[2, 3, 4], [2, 4, 4], [2, 4, 2]], on: device, mask: Tensor(shape: [3, 4], scalars: mask, on: device),
            scale: 0.6)
        expectClose(out, Self.maskedOutput, "output")
        expectClose(grads[0], Self.maskedGradQuery, "∂query")
        expectClose(grads[1], Self.maskedGradKey, "∂key")
        expectClose(grads[2], Self.maskedGradValue, "∂value")
    }

    @Test(
        "the fused op equals the composed softmax(QKᵀ·s + mask)·V, values and gradients, in Float and Double",
        arguments: [false, true])
    func composed(causal: Bool) {
        func check<S: TensorScalar>(_: S.Type, keys: Int, tolerance: Double) {
            let shapes = [[3, 2, 5, 4], [3, 2, keys, 4], [3, 2, keys, 3]]
            let inputs = shapes.enumerated().map { i, shape in
                Tensor<S>(converting: GradCheck.input(shape, seed: UInt64(40 + i))) * 2
            }
            let mask = Tensor<S>(converting: GradCheck.input([3, 1, 5, keys], seed: 50))
            let upstream = Tensor<S>(converting: GradCheck.input([3, 2, 5, 3], seed: 51))
            func run(_ f: ([Tensor<S>]) -> Tensor<S>) -> [[S]] {
                let tracked = inputs.map { $0.requiringGrad() }
                let out = f(tracked)
                return [out.scalars] + gradients(of: out, wrt: tracked, seed: upstream).map(\.scalars)
            }
            let fused = run {
                Tensor.scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2], mask: mask, causal: causal)
            }
            let composed = run {
                Tensor.attentionWeights(query: $0[0], key: $0[1], mask: mask, causal: causal).matmul($0[2])
            }
            for (index, (a, b)) in zip(fused, composed).enumerated() {
                let worst = zip(a, b).map { Double(Swift.abs($0 - $1)) }.max() ?? 0
                #expect(worst <= tolerance, "\(S.self), \(keys) keys, result \(index): differs by \(worst)")
            }
        }
        // 6 keys: the forward pass keeps the probabilities; 70: the backward pass recomputes them.
        for keys in [6, 70] {
            check(Float.self, keys: keys, tolerance: 1e-5)
            check(Double.self, keys: keys, tolerance: 1e-13)
        }
    }

    @Test("masks of every broadcast shape agree with the composed expression", arguments: devices)
    func maskShapes(device: Device) {
        // (leading axes, Tq, Tk, mask shape): shared matrices, rows or columns broadcast, masks
        // per sequence, per head, and one whose size equals Tq·Tk by coincidence.
        let configurations: [([Int], Int, Int, [Int])] = [
            ([2, 3], 4, 5, [4, 5]), ([2, 3], 4, 5, [1, 1, 4, 5]), ([2, 3], 4, 5, [5]), ([2, 3], 4, 5, [4, 1]),
            ([2, 3], 4, 5, [2, 1, 4, 5]), ([2, 3], 4, 5, [2, 3, 4, 5]), ([2, 3], 4, 5, [3, 1, 5]),
            ([3, 2], 3, 5, [3, 1, 1, 5]), ([2, 3], 4, 5, [2, 1, 1, 5]),
        ]
        for (index, (leading, tq, tk, maskShape)) in configurations.enumerated() {
            let seed = UInt64(70 + 4 * index)
            let q = Tensor<Double>(converting: GradCheck.input(leading + [tq, 3], seed: seed)).to(device)
            let k = Tensor<Double>(converting: GradCheck.input(leading + [tk, 3], seed: seed + 1)).to(device)
            let v = Tensor<Double>(converting: GradCheck.input(leading + [tk, 2], seed: seed + 2)).to(device)
            let mask = Tensor<Double>(converting: GradCheck.input(maskShape, seed: seed + 3)).to(device) * 3
            let fused = Tensor.scaledDotProductAttention(query: q, key: k, value: v, mask: mask).scalars
            let composed = Tensor.attentionWeights(query: q, key: k, mask: mask).matmul(v).scalars
            let worst = zip(fused, composed).map { Swift.abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-13, "leading \(leading), Tq \(tq), Tk \(tk), mask \(maskShape): differs by \(worst)")
        }
    }

    @Test("rows that see no key give zeros and zero gradients, not NaN", arguments: devices)
    func fullyMaskedRows(device: Device) {
        let q = Tensor<Double>(converting: GradCheck.input([2, 3, 4], seed: 3)).to(device).requiringGrad()
        let k = Tensor<Double>(converting: GradCheck.input([2, 2, 4], seed: 4)).to(device).requiringGrad()
        let v = Tensor<Double>(converting: GradCheck.input([2, 2, 5], seed: 5)).to(device).requiringGrad()
        // Row 1 of every head is hidden entirely; rows 0 and 2 see one key each.
        let inf = -Double.infinity
        let mask = Tensor<Double>(shape: [3, 2], scalars: [0, inf, inf, inf, inf, 0], on: device)
        let out = Tensor.scaledDotProductAttention(query: q, key: k, value: v, mask: mask)
        let rows = out.scalars
        for head in 0..<2 {
            #expect(rows[(head * 3 + 1) * 5..<(head * 3 + 2) * 5].allSatisfy { $0 == 0 })
            // A row that sees one key copies its value row.
            #expect(
                Array(rows[(head * 3) * 5..<(head * 3 + 1) * 5])
                    == Array(v.scalars[(head * 2) * 5..<(head * 2 + 1) * 5]))
        }
        out.sum().backward()
        for grad in [q.grad!, k.grad!, v.grad!] { #expect(grad.scalars.allSatisfy { $0.isFinite }) }
        // No key at all: every row is empty.
        let none = Tensor.scaledDotProductAttention(
            query: q, key: Tensor<Double>.zeros([2, 0, 4], on: device),
            value: Tensor<Double>.zeros([2, 0, 5], on: device))
        #expect(none.shape == [2, 3, 5] && none.scalars.allSatisfy { $0 == 0 })
    }

    /// The gpt-words shapes (64 sequences, 4 heads, 16 positions, width 16: probabilities kept)
    /// and 80 keys with a per-sequence mask broadcast over the heads (probabilities recomputed),
    /// split across threads.
    static let largeCases: [OpCase<Float>] = [
        OpCase("causal [64, 4, 16, 16]", [[64, 4, 16, 16], [64, 4, 16, 16], [64, 4, 16, 16]]) {
            Tensor.scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2], causal: true)
        },
        OpCase("packed causal [64, 16, 3·4·16]", [[64, 16, 192]]) {
            Tensor.scaledDotProductAttention(packedQueryKeyValue: $0[0], heads: 4, causal: true)
        },
        OpCase("mask [16, 1, 16, 80] over 4 heads", [[16, 4, 16, 8], [16, 4, 80, 8], [16, 4, 80, 8]]) {
            let mask = Tensor<Float>(converting: GradCheck.input([16, 1, 16, 80], seed: 7)).to($0[0].device)
            return Tensor.scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2], mask: mask)
        },
    ]

    /// The packed op is the split–attend–merge composition, without its copies: the same
    /// output and the same gradient of the packed input, at the gpt-words shapes (64 sequences,
    /// 16 positions, 4 heads of width 16) and with more positions than probabilities are kept for.
    @Test("packed self-attention equals splitting the heads, attending and merging them", arguments: devices)
    func packedEqualsComposition(_ device: Device) {
        for (entries, length, heads, width) in [(64, 16, 4, 16), (3, 70, 2, 5)] {
            let channels = heads * width
            let x = Tensor<Float>(converting: GradCheck.input([entries, length, 3 * channels], seed: 3))
                .to(device).requiringGrad()
            let upstream = Tensor<Float>(converting: GradCheck.input([entries, length, channels], seed: 4)).to(device)
            let packed = Tensor.scaledDotProductAttention(packedQueryKeyValue: x, heads: heads, causal: true)
            (packed * upstream).sum().backward()
            let packedGrad = x.grad!.scalars
            x.grad = nil
            let split = x.reshaped([entries, length, 3, heads, width]).permuted([2, 0, 3, 1, 4])
            let (q, k, v) = (
                split[0..<1].squeezed(axis: 0), split[1..<2].squeezed(axis: 0), split[2..<3].squeezed(axis: 0)
            )
            let composed = Tensor.scaledDotProductAttention(query: q, key: k, value: v, causal: true)
                .permuted([0, 2, 1, 3]).reshaped([entries, length, channels])
            (composed * upstream).sum().backward()
            let what = "\(device) [\(entries), \(length), \(heads)×\(width)]"
            // The same kernels on the same numbers, rows read from other addresses: equal bits.
            #expect(packed.scalars == composed.scalars, "output, \(what)")
            #expect(packedGrad == x.grad!.scalars, "gradient, \(what)")
        }
    }

    @Test("the CPU agrees with the reference at 1 to 4 threads", arguments: largeCases)
    func threads(_ op: OpCase<Float>) {
        for threads in 1...4 {
            ComputeThreads.withCount(threads) {
                BackendCrossCheckTests.crossCheck(op, tolerance: 2e-5, "\(threads) threads")
            }
        }
    }

    @Test("misuse stops with one line naming the op and the problem", arguments: AttentionMisuse.allCases)
    func misuse(_ misuse: AttentionMisuse) async throws {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) { [misuse] in
            misuse.trigger()
        }
        let stderr = String(decoding: try #require(result).standardErrorContent, as: UTF8.self)
        #expect(stderr.contains(misuse.expectedLine), "stderr was: \(stderr.prefix(600))")
    }

    // MARK: PyTorch's values

    static let causalOutput: [Double] = [
        0.7191383079063045, 1.3980586289508394, 1.4194501315311217, 0.7732520577321967, 0.6468944648812956,
        1.206574142801558, 1.1987831481212048, 0.6271857073760568, 0.21091632313635741, 0.45298893552906305,
        0.48201377339508406, 0.2843400019604287, 0.7515312846868293, -0.2614901718344695, -1.1515287146453719,
        -1.4999853098260552, -0.531045413815572, -0.25263239544100435, 0.14459758599953892, 0.47382106334489127,
        0.3994670440961218, -0.05200039869081476, -0.47901124144481644, -0.6807356125902095,
    ]
    static let causalGradQuery: [Double] = [
        0.0, 0.0, 0.0, 0.0, -0.1218126151028767, -0.17259098087090652, -0.18900548213195145, -0.16778789655806614,
        0.48192086340655904, 0.6966686275967686, 0.7727056306324943, 0.6948924645524859, 0.0, 0.0, 0.0, 0.0,
        -0.15626596035412593, 0.22617778433746383, 0.5635882214005612, 0.7887849774230064, 0.2616762341381245,
        -0.10344235961016982, -0.44796498008112595, -0.7032951769288807,
    ]
    static let causalGradKey: [Double] = [
        0.17695067888460975, 0.04349875447577997, -0.0938387841201532, -0.2227939836061054, -0.1850006599615897,
        -0.048004642170528106, 0.0932794873357432, 0.22623123804805856, 0.008049981076979828, 0.0045058876947480725,
        0.0005592967844099555, -0.003437254441953171, -0.44641467276368774, -0.5423118976014224, -0.5897660157674883,
        -0.5845380922163954, 0.4326484913537777, 0.5511196239969491, 0.6203608820011612, 0.634187150006758,
        0.013766181409909827, -0.008807726395526929, -0.03059486623367308, -0.049649057790362654,
    ]
    static let causalGradValue: [Double] = [
        0.44885439520039105, 0.8215037989144363, 0.9357810040823915, 0.7052033001253718, 0.2998847706893171,
        0.3158784736656561, 0.15273325282221656, -0.06608584125812447, 0.20240825466459259, 0.23830433022738043,
        0.12468737165935642, -0.052459571924389076, -0.699062880241669, -0.2353231548378382, 0.6876854125619978,
        1.3714483397480972, 0.6473898534610489, 0.4684206730203473, 0.07636856491093014, -0.23206925161305297,
        -0.11459267350826988, 0.05208215883588558, 0.21082082085684795, 0.24149305783704955,
    ]
    static let maskedOutput: [Double] = [
        -0.6548569009358267, -0.35699508036857575, -0.24929798077224546, 0.2290027733900567, 0.8344268056628281,
        0.8317483337226926, -0.0843978783728696, -0.0050217739606593925, 1.014024891262838, 1.0080514767461488,
        0.6154565620562743, 0.45316139429814123,
    ]
    static let maskedGradQuery: [Double] = [
        0.2622955092782827, 0.1378224383783871, -0.014091878724284633, -0.16320042110636215, 0.30588101329246054,
        0.08129562010974195, -0.15947620216889796, -0.3684953883841302, -0.2655387088794858, -0.2248751838225064,
        -0.13943770644851708, -0.026237373638034342, 0.13124846832165799, 0.05454866318462802, -0.03301209691803716,
        -0.11399995720949267, -0.45484467864282796, -0.5285586696171356, -0.4970335663174434, -0.36654619950798206,
        -0.1392958426616015, -0.07413630051954315, 0.005784208697661792, 0.08455304844196869,
    ]
    static let maskedGradKey: [Double] = [
        0.5340659395391565, 0.6974656462018269, 0.7985628239171944, 0.828326762892737, 0.011221764266013989,
        0.017451425756613327, 0.022122203359104323, 0.024816870421005482, 0.07358220818401309, 0.02031727084336031,
        -0.03476254779179338, -0.08673713156430621, -0.6188699119891835, -0.7352343428018004, -0.7859224794845051,
        -0.7664065017494363, 0.09845513942934989, 0.03624046343172897, -0.02921146523104411, -0.09205402070380984,
        -0.36765944697814823, -0.32055837543206805, -0.24482277891201146, -0.1472178926954826, 0.17150266592892272,
        0.2052057192225198, 0.22057835677215118, 0.21624738664908458, 0.09770164161987586, 0.07911219277781949,
        0.05345588737090455, 0.023024526750207962,
    ]
    static let maskedGradValue: [Double] = [
        0.5598112716497979, 0.2416006311153277, -0.06458540511061416, -0.2622106718974609, 0.013613918962961977,
        0.0236668762562552, 0.6224874020811968, 0.8301198367220941, 0.0319307810892204, 0.17772741518266955,
        0.8600351297829641, 0.7667219043203487, 0.20690985059378672, 0.10088513647118665, -0.06585389993104876,
        0.08383336157990989,
    ]
}

/// Wrong uses of the attention op, each with the line it must print.
enum AttentionMisuse: String, CaseIterable, Codable, Sendable {
    case learnedMask, width, maskShape, packedWidth, packedHeads, packedScale

    var expectedLine: String {
        switch self {
        case .learnedMask:
            "scaledDotProductAttention: the mask [3, 3] requires a gradient, but the fused op treats it as a constant"
        case .width:
            "scaledDotProductAttention: query [2, 3, 4], key [2, 3, 5], value [2, 3, 4]: query and key rows must have the same nonzero width"
        case .maskShape:
            "scaledDotProductAttention: mask of shape [2, 3] does not broadcast to the scores' shape [2, 3, 3]"
        case .packedWidth:
            "scaledDotProductAttention(packedQueryKeyValue:): packed input [2, 3, 4] must be [batch, time, 3·heads·width] with 2 heads and width ≥ 1"
        case .packedHeads:
            "scaledDotProductAttention(packedQueryKeyValue:): heads is 0; it must be at least 1"
        case .packedScale:
            "scaledDotProductAttention(packedQueryKeyValue:): scale inf is not finite"
        }
    }

    func trigger() {
        let x = Tensor<Float>.ones([2, 3, 4])
        switch self {
        case .learnedMask:
            _ = Tensor.scaledDotProductAttention(
                query: x, key: x, value: x, mask: Tensor.zeros([3, 3]).requiringGrad())
        case .width: _ = Tensor.scaledDotProductAttention(query: x, key: .ones([2, 3, 5]), value: x)
        case .maskShape: _ = Tensor.scaledDotProductAttention(query: x, key: x, value: x, mask: Tensor.zeros([2, 3]))
        case .packedWidth: _ = Tensor.scaledDotProductAttention(packedQueryKeyValue: x, heads: 2)
        case .packedHeads:
            _ = Tensor.scaledDotProductAttention(packedQueryKeyValue: Tensor<Float>.ones([2, 3, 6]), heads: 0)
        case .packedScale:
            _ = Tensor.scaledDotProductAttention(
                packedQueryKeyValue: Tensor<Float>.ones([2, 3, 6]), heads: 1, scale: .infinity)
        }
    }
}
