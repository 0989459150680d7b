import AutoDiff
import Foundation

// op-overhead: 4×4 tensors, 10 × (c = (c*b + a).tanh()), sum, backward: 31 recorded ops.
var g = RandomGenerator(seed: 0)
let a = Tensor<Float>.randomNormal([4, 4], generator: &g).requiringGrad()
let b = Tensor<Float>.randomNormal([4, 4], generator: &g).requiringGrad()
func iteration(_ a: Tensor<Float>, _ b: Tensor<Float>) {
    var c = a
    for _ in 0..<10 { c = (c * b + a).tanh() }
    c.sum().backward()
}
for _ in 0..<(n / 20) { iteration(a, b) }
let n = Int(ProcessInfo.processInfo.environment["OPS_N"] ?? "") ?? 20000
let t0 = DispatchTime.now().uptimeNanoseconds
for _ in 0..<n { iteration(a, b) }
let secs = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
print("op-overhead µs/op:", secs / Double(n * 31) * 1e6)
