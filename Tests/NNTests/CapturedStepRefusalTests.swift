import AutoDiff
import Testing

/// Steps a replay could not repeat: each must stay eager, say why in `eagerReason`, and give on
/// every call what running its body directly gives.
@Suite struct CapturedStepRefusalTests {
    static func input(_ i: Int) -> Tensor<Float> {
        var generator = RandomGenerator(seed: UInt64(200 + i))
        return Tensor<Float>.randomNormal([4, 3], generator: &generator)
    }

    /// Calls `step` and `direct` on the same inputs `calls` times; every result must be bitwise
    /// equal, and the step must never have replayed.
    func expectEagerAndCorrect<Output>(
        _ step: CapturedStep<Tensor<Float>, Output>, _ direct: (Tensor<Float>) -> Float,
        _ result: (Output) -> Float, calls: Int = 6, reason: String
    ) {
        for i in 0..<calls {
            let x = Self.input(i)
            let expected = direct(x)
            let got = result(step(x))
            #expect(got.bitPattern == expected.bitPattern, "call \(i): step \(got), direct \(expected)")
        }
        #expect(step.replayedCalls == 0)
        #expect(step.eagerReason?.contains(reason) == true, "\(step.eagerReason ?? "no reason")")
    }

    @Test func twoInputsSharingOneTensorStayEager() {
        let step = CapturedStep { (a: Tensor<Float>, b: Tensor<Float>) -> Tensor<Float> in (a * b + a).sum() }
        for i in 0..<6 {
            let x = Self.input(i)
            #expect(step(x, x).item == (x * x + x).sum().item, "call \(i)")
        }
        #expect(step.replayedCalls == 0)
        #expect(step.eagerReason?.contains("share one tensor") == true, "\(step.eagerReason ?? "no reason")")
    }

    @Test func returningAnInputStaysEager() {
        let step = CapturedStep { (x: Tensor<Float>) -> Tensor<Float> in x }
        expectEagerAndCorrect(step, { $0.sum().item }, { $0.sum().item }, reason: "not computed by its kernels")
    }

    @Test func stateReplacedInsteadOfUpdatedInPlaceStaysEager() {
        // A running value kept outside the step and replaced by a new tensor on each call: its
        // old buffer is freed inside the step, so a replay would read freed memory.
        var running = Tensor<Float>.zeros([3])
        var reference = Tensor<Float>.zeros([3])
        let step = CapturedStep { (x: Tensor<Float>) -> Tensor<Float> in
            running = running * 0.5 + x.mean(alongAxis: 0)
            return running.sum()
        }
        expectEagerAndCorrect(
            step,
            { x in
                reference = reference * 0.5 + x.mean(alongAxis: 0)
                return reference.sum().item
            }, { $0.item }, reason: "state replaced")
    }

    @Test func writingAnOutsideTensorFromTheHostStaysEager() {
        var counter = Tensor<Float>.zeros([1])
        var calls: Float = 0
        let step = CapturedStep { (x: Tensor<Float>) -> Tensor<Float> in
            counter.withUnsafeMutableBufferPointer { $0[0] += 1 }
            return (x * counter).sum()
        }
        expectEagerAndCorrect(
            step,
            { x in
                calls += 1
                return (x * calls).sum().item
            }, { $0.item }, reason: "writes elements of an existing tensor")
        #expect(counter.item == 6)
    }

    @Test func dropoutFromAGeneratorPassedByValueStaysEager() {
        var stepGenerator = RandomGenerator(seed: 3)
        var referenceGenerator = RandomGenerator(seed: 3)
        let step = CapturedStep { (x: Tensor<Float>) -> Tensor<Float> in
            (x.dropout(rate: 0.5, generator: &stepGenerator) * x).sum()
        }
        expectEagerAndCorrect(
            step, { x in (x.dropout(rate: 0.5, generator: &referenceGenerator) * x).sum().item }, { $0.item },
            reason: "random generator passed by value")
    }
}
