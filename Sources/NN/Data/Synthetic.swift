import AutoDiff
import RealModule

/// Two interleaving half circles, following scikit-learn's `make_moons` (with `shuffle=True`):
///
///     n_out = ⌊n/2⌋, n_in = n − n_out
///     outer: (cos θ, sin θ),            θ = linspace(0, π, n_out)      label 0
///     inner: (1 − cos θ, 1 − sin θ − ½), θ = linspace(0, π, n_in)       label 1
///
/// then the rows are shuffled and Gaussian noise `N(0, noise²)` is added to every coordinate.
/// The random numbers come from `RandomGenerator` seeded with `seed` (not NumPy's), so the
/// points differ from scikit-learn's for the same seed while following the same distribution.
///
/// Features `[n, 2]`, labels `[n]` (0 or 1; reshape to `[n, 1]` for a one-output model).
public func makeMoons<Scalar: TensorScalar>(
    samples: Int, noise: Double = 0, seed: UInt64, as _: Scalar.Type = Float.self
) -> Dataset<Scalar> {
    guard samples >= 0 else { tensorFailure("makeMoons: samples \(samples) is negative") }
    let nOut = samples / 2, nIn = samples - nOut
    var xs: [Double] = [], ys: [Double] = [], labels: [Double] = []
    for theta in linspace(0, .pi, nOut) {
        xs.append(Double.cos(theta)); ys.append(Double.sin(theta)); labels.append(0)
    }
    for theta in linspace(0, .pi, nIn) {
        xs.append(1 - Double.cos(theta)); ys.append(1 - Double.sin(theta) - 0.5); labels.append(1)
    }
    var generator = RandomGenerator(seed: seed)
    let order = generator.permutation(samples)
    var features = [Scalar](), shuffledLabels = [Scalar]()
    features.reserveCapacity(2 * samples)
    for i in order {
        features.append(Scalar(xs[i])); features.append(Scalar(ys[i]))
        shuffledLabels.append(Scalar(labels[i]))
    }
    if noise != 0 {
        for j in features.indices { features[j] += Scalar(noise * generator.nextNormal()) }
    }
    return Dataset(features: Tensor(shape: [samples, 2], scalars: features), labels: Tensor(shuffledLabels))
}

/// The spiral data of "Neural Networks from Scratch" (`nnfs.datasets.spiral_data`): for each
/// class `c`, `samples` points
///
///     r = linspace(0, 1, samples),  t = linspace(4c, 4(c + 1), samples) + 0.2·N(0, 1)
///     x = (r·sin(2.5·t), r·cos(2.5·t))
///
/// in class order (not shuffled), labels `c`. Features `[samples·classes, 2]`, labels
/// `[samples·classes]`. The noise comes from `RandomGenerator` seeded with `seed`.
public func spiralData<Scalar: TensorScalar>(
    samples: Int, classes: Int, seed: UInt64, as _: Scalar.Type = Float.self
) -> Dataset<Scalar> {
    var generator = RandomGenerator(seed: seed)
    var features = [Scalar](), labels = [Scalar]()
    features.reserveCapacity(2 * samples * classes)
    for c in 0..<classes {
        let r = linspace(0, 1, samples)
        let t0 = linspace(Double(c * 4), Double((c + 1) * 4), samples)
        for i in 0..<samples {
            let t = t0[i] + generator.nextNormal() * 0.2
            features.append(Scalar(r[i] * Double.sin(t * 2.5)))
            features.append(Scalar(r[i] * Double.cos(t * 2.5)))
            labels.append(Scalar(c))
        }
    }
    return Dataset(features: Tensor(shape: [samples * classes, 2], scalars: features), labels: Tensor(labels))
}

/// NumPy's `linspace(start, stop, n)` (endpoint included; `[start]` for n = 1).
func linspace(_ start: Double, _ stop: Double, _ n: Int) -> [Double] {
    if n <= 0 { return [] }
    if n == 1 { return [start] }
    let step = (stop - start) / Double(n - 1)
    return (0..<n).map { $0 == n - 1 ? stop : start + Double($0) * step }
}
