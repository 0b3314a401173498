// rms_norm(x + y) as one autograd node: the residual add and the parameter-free RMSNorm that
// close every sub-layer of a TRM block (TRM-SPEC §1.2), fused. As separate ATen ops they are
// seven passes over the activations forward (add, square, mean, add, rsqrt, mul and a copy) and
// more in autograd's backward; this is two passes forward and two backward, for the same values
// within float32 rounding. It keeps the output and one scale per normalised vector, as the ops
// kept their input.
#pragma once

#include <ATen/core/Tensor.h>

namespace trm::core {

// x + y normalised over `dim` (the last axis, or 0 for the token-MLP's norm over positions):
// (x + y) * rsqrt(mean((x + y)^2, dim) + eps). Fused for float32 CPU tensors of one shape
// normalised over their first or last axis; any other case (bfloat16, CUDA) runs the reference's
// separate ops, in float32, cast back to x's dtype.
at::Tensor add_rms_norm(const at::Tensor& x, const at::Tensor& y, double eps, int64_t dim);

}  // namespace trm::core
