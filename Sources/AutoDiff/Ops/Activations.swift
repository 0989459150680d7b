// Activations computed by one kernel each (GELU, SiLU, ELU), with fused backward kernels that
// are themselves differentiable, as tanh's and sigmoid's are: they run on large tensors, where a
// composition of a dozen elementwise ops would cost a dozen passes over memory.
//
// Each backward kernel computes `g·f′(x)` from the upstream gradient `g` and the input `x`; its
// own rule is `∂g = h·f′(x)` (the same kernel) and `∂x = h·g·f″(x)` (tensor expressions).

/// Which GELU to compute: the exact one (with erf) or PyTorch's `approximate='tanh'`.
public enum GELUApproximation: String, Sendable, CaseIterable {
    /// `x·Φ(x) = ½·x·(1 + erf(x/√2))`.
    case none
    /// `½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
    case tanh
}

extension Tensor {
    /// GELU, `x·Φ(x)` with `Φ` the standard normal distribution function: exact
    /// (`½·x·(1 + erf(x/√2))`) or, with `approximate: .tanh`,
    /// `½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))` (PyTorch's `approximate='tanh'`).
    /// ∂/∂x = g·(Φ(x) + x·φ(x)) (exact), one fused kernel.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func gelu(approximate: GELUApproximation = .none) -> Tensor {
        let x = self
        return unaryOp(approximate == .none ? .gelu : .geluTanh, .gelu) {
            .unary { g, _ in Tensor.geluBackward(g, x, approximate) }
        }
    }

    /// SiLU (swish), `x·σ(x)`. ∂/∂x = g·σ(x)·(1 + x·(1 − σ(x))), one fused kernel.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func silu() -> Tensor {
        let x = self
        return unaryOp(.silu, .silu) { .unary { g, _ in Tensor.siluBackward(g, x) } }
    }

    /// ELU: `x` where `x > 0`, else `α·(eˣ − 1)`. ∂/∂x = g where x > 0, else g·α·eˣ, one fused
    /// kernel.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func elu(alpha: Scalar = 1) -> Tensor {
        let x = self
        return unaryOp(.elu(Double(alpha)), .elu) { .unary { g, _ in Tensor.eluBackward(g, x, alpha: alpha) } }
    }

    // MARK: Fused backward kernels (differentiable, for second derivatives)

    /// `g·GELU′(x)`. ∂/∂g = h·GELU′(x); ∂/∂x = h·g·GELU″(x), with GELU″ = φ(x)·(2 − x²) (exact)
    /// or `(1 − t²)·(u′ − x·t·u′² + ½·x·u″)` (tanh: `t = tanh u`, `u = √(2/π)·(x + 0.044715·x³)`).
    static func geluBackward(_ g: Tensor, _ x: Tensor, _ approximate: GELUApproximation) -> Tensor {
        binaryOp(g, x, approximate == .none ? .geluBackward : .geluTanhBackward, .geluBackward) {
            .binary { h, _, wg, wx in
                (wg ? geluBackward(h, x, approximate) : nil, wx ? h * g * geluSecondDerivative(x, approximate) : nil)
            }
        }
    }

    /// GELU″(x) as tensor expressions (recorded, so differentiable again).
    private static func geluSecondDerivative(_ x: Tensor, _ approximate: GELUApproximation) -> Tensor {
        let x2 = x * x
        switch approximate {
        case .none:
            // φ(x)·(2 − x²), φ(x) = e^{−x²/2}/√(2π).
            return (x2 * -0.5).exp() * Scalar(0.3989422804014327) * (2 - x2)
        case .tanh:
            let (c, a) = (Scalar(0.7978845608028654), Scalar(0.044715))
            let t = ((x + x2 * x * a) * c).tanh()
            let du = (x2 * (3 * a) + 1) * c
            let d2u = x * (6 * a * c)
            return (1 - t * t) * (du - x * t * du * du + x * d2u * 0.5)
        }
    }

    /// `g·SiLU′(x)`. ∂/∂g = h·SiLU′(x); ∂/∂x = h·g·σ(x)·(1 − σ(x))·(2 + x·(1 − 2σ(x))).
    static func siluBackward(_ g: Tensor, _ x: Tensor) -> Tensor {
        binaryOp(g, x, .siluBackward, .siluBackward) {
            .binary { h, _, wg, wx in
                guard wx else { return (wg ? siluBackward(h, x) : nil, nil) }
                let s = x.sigmoid()
                return (wg ? siluBackward(h, x) : nil, h * g * s * (1 - s) * (x * (1 - s * 2) + 2))
            }
        }
    }

    /// `g·ELU′(x)`. ∂/∂g = h·ELU′(x); ∂/∂x = h·g·ELU″(x), and ELU″ = ELU′ − [x > 0] (α·eˣ below
    /// 0, 0 above), so it is the same kernel minus a constant mask.
    static func eluBackward(_ g: Tensor, _ x: Tensor, alpha: Scalar) -> Tensor {
        binaryOp(g, x, .eluBackward(Double(alpha)), .eluBackward) {
            .binary { h, _, wg, wx in
                guard wx else { return (wg ? eluBackward(h, x, alpha: alpha) : nil, nil) }
                let hg = h * g
                return (
                    wg ? eluBackward(h, x, alpha: alpha) : nil,
                    eluBackward(hg, x, alpha: alpha) - hg * x.detached().mapped(.positive)
                )
            }
        }
    }
}
