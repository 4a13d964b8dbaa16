//! `Gemm` and `MatMul`: with a constant weight one [`Dense`] layer (`Gemm`'s `alpha` and
//! `beta` folded into the weight and bias, the weight stored `[out, in]`); `MatMul` of two
//! run-time values one [`MatMul`] node. `Gemm` computes `alpha · A · B + beta · C`
//! (<https://onnx.ai/onnx/operators/onnx__Gemm.html>) with `A` the batch of inputs.

use super::values::to_float;
use super::{Importer, NodeCtx};
use crate::error::Result;
use crate::graph::ops::dense::Dense;
use crate::graph::ops::matmul::MatMul;
use crate::graph::ops::Op;
use crate::io::onnx::data::Val;
use crate::io::onnx::fold;
use ndarray::{ArrayD, IxDyn};

impl Importer {
    pub(super) fn gemm(&mut self, ctx: &NodeCtx) -> Result<()> {
        let x = self.runtime_any(ctx, 0)?;
        if self.rank(x) != 2 {
            return Err(ctx.err(format!(
                "input A has shape {:?} at batch 1; Gemm takes a 2-D input",
                self.onnx_shape(x)
            )));
        }
        if ctx.bool("transA", false)? {
            return Err(
                ctx.err("transA=1 would transpose the batch dimension away; nnlens needs transA=0")
            );
        }
        let b = match self.required(ctx, 1)? {
            Val::Runtime(_) => return Err(ctx.err(
                "input B is computed at run time; nnlens maps Gemm with a constant weight B only",
            )),
            v => {
                self.spend(ctx, v.bytes())?;
                to_float(v).map_err(|m| ctx.err(format!("input B {m}")))?
            }
        };
        if b.ndim() != 2 {
            return Err(ctx.err(format!("weight B has shape {:?}, expected 2-D", b.shape())));
        }
        let alpha = ctx.float("alpha", 1.0)?;
        let beta = ctx.float("beta", 1.0)?;
        // Dense wants [out, in]: B is [K, M] unless transB, when it already is [M, K].
        let w = if ctx.bool("transB", false)? {
            b
        } else {
            fold::transpose(&b, &[1, 0]).map_err(|e| ctx.err(e))?
        };
        let w = if alpha == 1.0 {
            w
        } else {
            fold::map(&w, &|v| alpha * v).map_err(|e| ctx.err(e))?
        };
        let out = w.shape()[0];
        let bias = match self.float_const(ctx, 2, "bias C")? {
            None => None,
            Some(c) => {
                let ok = c.len() == out && (c.ndim() == 1 || (c.ndim() == 2 && c.shape()[0] == 1));
                let scalar = c.len() == 1 && c.ndim() <= 2;
                if !ok && !scalar {
                    return Err(ctx.err(format!(
                        "bias C has shape {:?}; nnlens needs one bias per output ([{out}], [1, {out}] or a scalar)",
                        c.shape()
                    )));
                }
                let values: Vec<f32> = if ok {
                    c.iter().map(|&v| beta * v).collect()
                } else {
                    vec![beta * c.iter().next().copied().unwrap_or(0.0); out]
                };
                Some(ArrayD::from_shape_vec(IxDyn(&[out]), values).map_err(|e| ctx.err(e))?)
            }
        };
        let dense = Dense::new(w, bias).map_err(|e| ctx.err(e))?;
        self.push(ctx, Op::Dense(dense), &[x])
    }

    pub(super) fn matmul(&mut self, ctx: &NodeCtx) -> Result<()> {
        let x = self.runtime_any(ctx, 0)?;
        let b = match self.required(ctx, 1)? {
            Val::Runtime(y) => return self.push(ctx, Op::MatMul(MatMul), &[x, y]),
            v => {
                self.spend(ctx, v.bytes())?;
                to_float(v).map_err(|m| ctx.err(format!("input B {m}")))?
            }
        };
        if b.ndim() != 2 {
            return Err(ctx.err(format!(
                "weight B has shape {:?}; nnlens maps a 2-D [in, out] weight only",
                b.shape()
            )));
        }
        let w = fold::transpose(&b, &[1, 0]).map_err(|e| ctx.err(e))?;
        let dense = Dense::new(w, None).map_err(|e| ctx.err(e))?;
        self.push(ctx, Op::Dense(dense), &[x])
    }
}

#[cfg(test)]
mod tests {
    use crate::io::onnx::test_model::{
        attr_float, attr_int, err, float_tensor, from_onnx, model, node,
    };

    #[test]
    fn gemm_forms_and_errors() {
        let b = float_tensor("B", &[3, 2], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let c = float_tensor("C", &[2], [0.5, -0.5]);
        let gemm = |attrs| vec![node("Gemm", "fc", &["x", "B", "C"], "y", attrs)];
        let g = from_onnx(&model(
            gemm(vec![attr_float("alpha", 2.0), attr_float("beta", 3.0)]),
            vec![b.clone(), c.clone()],
            &[3],
        ))
        .unwrap();
        let x = g.input_tensor(vec![1.0, 0.0, -1.0], 1).unwrap();
        // alpha * [1, 0, -1] B = 2 * [-4, -4]; beta * C = [1.5, -1.5].
        assert_eq!(g.forward(x).unwrap().as_slice().unwrap(), &[-6.5, -9.5]);
        let e = err(&model(
            gemm(vec![attr_int("transA", 1)]),
            vec![b.clone(), c.clone()],
            &[3],
        ));
        assert!(e.contains("transA=1"), "{e}");
        let wide = float_tensor("C", &[2, 2], [0.0; 4]);
        let e = err(&model(gemm(vec![]), vec![b, wide], &[3]));
        assert!(e.contains("bias C has shape [2, 2]"), "{e}");
    }
}
