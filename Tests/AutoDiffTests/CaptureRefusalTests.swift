import AutoDiff
import Testing

/// `Capture.refuse(_:)`: code inside a step (the distributed gradient hooks) keeps it eager.
@Suite("Capture.refuse")
struct CaptureRefusalTests {
    @Test("a step that calls Capture.refuse runs eagerly every time, with the reason, and the hook runs on every call")
    func refusedStepStaysEager() {
        let w = Tensor<Float>(shape: [3], scalars: [1, 2, 3]).requiringGrad()
        var hookCalls = 0
        let handle = w.registerHook { gradient in
            hookCalls += 1
            Capture.refuse("test: the hook must run on every call")
            return gradient * 2
        }
        defer { handle.remove() }
        let step = CapturedStep { (x: Tensor<Float>) -> Tensor<Float> in
            w.zeroGrad()
            let loss = (w * x).sum()
            loss.backward()
            return w.grad!
        }
        let x = Tensor<Float>(shape: [3], scalars: [1, -1, 0.5])
        for _ in 0..<6 { #expect(step(x).scalars == [2, -2, 1]) }
        #expect(hookCalls == 6)
        #expect(step.replayedCalls == 0)
        #expect(step.eagerReason == "test: the hook must run on every call")
        // Outside a recording it does nothing.
        Capture.refuse("ignored")
    }
}
