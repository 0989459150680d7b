import AutoDiff
let x = Tensor<Double>(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]).requiringGrad()
let w = Tensor<Double>(shape: [3, 1], scalars: [0.5, -1, 2]).requiringGrad()
let y = (x.matmul(w).tanh() * 2 + x.sum(alongAxis: 1, keepDims: true)).sigmoid().mean()
y.backward()
print(y)
print(x.grad!)
print(w.grad!)
let z = x.softmax(alongAxis: 1)
print(z)
var c = x
for _ in 0..<100_000 { c = c * 1.0000001 + 0.0 }
let t0 = ContinuousClock.now
c.sum().backward()
print("100k chain ok", ContinuousClock.now - t0)
