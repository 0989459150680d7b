import AutoDiff
import NN

/// Sums BatchNorm statistics across the ranks of a ``DistributedDataParallel`` job (PyTorch's
/// `SyncBatchNorm`): installed on every BatchNorm layer of the model as its
/// `statisticsReducer` when the job synchronizes them.
///
/// The sum is an op of its own:
///
///     forward:   S = Σ_r s_r                                  (the same on every rank)
///     backward:  ∂s_r = (Σ_q w_q · ∂S_q) / w_r
///
/// where `w_q` is rank `q`'s ``DistributedDataParallel/gradientWeight``. The objective the ranks
/// minimize together is `Σ_q w_q · L_q`; each rank's gradient hooks later multiply its gradients
/// by its own `w_r`, so dividing by it here makes a parameter's gradient `Σ_q w_q · ∂L_q/∂S ·
/// ∂S/∂θ`, that objective's. With equal slices it is the plain sum of upstream gradients.
///
/// Both directions run as host steps (an `MPI_Allreduce` in place on a buffer a kernel has just
/// written), so a captured step's replays repeat them between the same kernels.
final class BatchNormSynchronizer<Scalar: TensorScalar>: BatchStatisticsReducer {
    unowned(unsafe) let owner: DistributedDataParallel<Scalar>
    /// The host steps, one per direction and length: a layer's two sums (`Σ x` with the count,
    /// `C + 1` values; `Σ (x − μ)²`, `C`) and their gradients. The same objects serve every step,
    /// so the two recordings of a captured step register the same host steps.
    private var steps: [Bool: [Int: StatisticsSum<Scalar>]] = [false: [:], true: [:]]

    init(owner: DistributedDataParallel<Scalar>) { self.owner = owner }

    func sumOverProcesses(_ local: Tensor<Scalar>) -> Tensor<Scalar> {
        Tensor.customOp(
            name: "SyncBatchNorm's sum over ranks", inputs: [local],
            forward: { [self] inputs in
                // A buffer of its own, written by a kernel, which the host step then sums in place.
                let sums = inputs[0] * 1
                step(weighted: false, count: sums.count).run(on: sums)
                return sums
            },
            vjp: { [self] upstream, _, _ in
                let gradient = withoutGrad { upstream * 1 }
                step(weighted: true, count: gradient.count).run(on: gradient)
                return [gradient]
            })
    }

    private func step(weighted: Bool, count: Int) -> StatisticsSum<Scalar> {
        if let step = steps[weighted]![count] { return step }
        let step = StatisticsSum(owner: owner, weighted: weighted)
        steps[weighted]![count] = step
        return step
    }
}

/// One all-reduce of a small tensor in place, as a host step.
private final class StatisticsSum<Scalar: TensorScalar>: CaptureHostStep {
    /// The values of the recorded call, kept alive so that the captured step's plan keeps their
    /// buffer, which its replayed kernels write and read around this step.
    private var recorded: Tensor<Scalar>?
    unowned(unsafe) let owner: DistributedDataParallel<Scalar>
    /// Whether the values are gradients, weighted by the rank's share on the way in and
    /// divided by it on the way out.
    let weighted: Bool

    init(owner: DistributedDataParallel<Scalar>, weighted: Bool) {
        self.owner = owner
        self.weighted = weighted
    }

    /// Sums `values` in place, recording the step when a capture is recording. Only a recorded
    /// call keeps its values: an eager call outside the captured step (a training-mode forward
    /// pass to evaluate, say) must not release the buffer the plan replays into.
    func run(on values: Tensor<Scalar>) {
        if Capture.isRecording {
            recorded = values
            Capture.recordHostStep(self)
        }
        sum(values.captureBuffer)
    }

    func replayHostStep() {
        if let recorded { sum(recorded.captureBuffer) }
    }

    private func sum(_ buffer: Buffer) {
        // MPI reads and writes host memory; a device's buffer would need copies this step does
        // not make (the gradient exchange makes them, but no device backend exists to test them).
        guard buffer.isHostMemory else {
            tensorFailure(
                "SyncBatchNorm: the statistics are on \(buffer.device), not in host memory; only host-memory backends can sum them across ranks"
            )
        }
        let elements = UnsafeMutableBufferPointer(start: buffer.host(Scalar.self), count: buffer.count)
        let weight = Scalar(owner.gradientWeight)
        if weighted {
            guard weight > 0 else {
                tensorFailure(
                    "SyncBatchNorm: this rank's gradientWeight is \(owner.gradientWeight); every rank needs a nonempty slice of the batch"
                )
            }
            for i in elements.indices { elements[i] *= weight }
        }
        owner.sumAcrossRanks(elements)
        if weighted { for i in elements.indices { elements[i] /= weight } }
    }
}
