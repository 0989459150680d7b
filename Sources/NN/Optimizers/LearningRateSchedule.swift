import RealModule

/// A multiplier of the base learning rate as a function of the update number `t` (0 for the
/// first update). Schedules count optimizer steps, not epochs: for a per-epoch step schedule,
/// pass `every: stepsPerEpoch · epochs`.
public enum LearningRateSchedule: Sendable, Hashable {
    /// `1`.
    case constant
    /// `1 / (1 + decay·t)`: the book's `decay` (`current_learning_rate = learning_rate *
    /// (1. / (1. + decay * iterations))`).
    case inverseTimeDecay(Double)
    /// `γ^⌊t / every⌋` (PyTorch `StepLR`).
    case step(every: Int, gamma: Double)
    /// `γ^t` (PyTorch `ExponentialLR`, per step).
    case exponential(gamma: Double)
    /// Cosine annealing from 1 down to `minimumFactor` over `period` steps, then flat:
    /// `m + (1 − m)·(1 + cos(π·min(t, T)/T))/2` (PyTorch `CosineAnnealingLR` without restarts).
    case cosine(period: Int, minimumFactor: Double = 0)
    /// Linear warmup from 0 over `warmup` steps, then cosine decay to `minimumFactor` at step
    /// `total`, then flat (nanoGPT's `get_lr`, as a multiplier of the base rate):
    /// `t/W` for `t < W`; `m + (1 − m)·(1 + cos(π·(t − W)/(T − W)))/2` for `W ≤ t ≤ T`; `m` after.
    case warmupCosine(warmup: Int, total: Int, minimumFactor: Double = 0)

    /// The multiplier for update `t`.
    public func factor(step t: Int) -> Double {
        switch self {
        case .constant:
            return 1
        case .inverseTimeDecay(let decay):
            return 1 / (1 + decay * Double(t))
        case .step(let every, let gamma):
            return Double.pow(gamma, Double(t / Swift.max(every, 1)))
        case .exponential(let gamma):
            return Double.pow(gamma, Double(t))
        case .cosine(let period, let m):
            let progress = Double(Swift.min(t, period)) / Double(Swift.max(period, 1))
            return m + (1 - m) * (1 + Double.cos(.pi * progress)) / 2
        case .warmupCosine(let warmup, let total, let m):
            if t < warmup { return Double(t) / Double(warmup) }
            if t >= total { return m }
            let progress = Double(t - warmup) / Double(total - warmup)
            return m + (1 - m) * (1 + Double.cos(.pi * progress)) / 2
        }
    }
}
