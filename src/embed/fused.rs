//! A linear layer fused with what follows it (its activation, or the residual
//! sum that closes a sub-layer), through oneDNN, for the encoder's f32 passes on
//! the CPU.
//!
//! libtorch runs an f32 `linear` on the CPU as an MKL `sgemm` with the bias
//! copied into the output first, and the activation or the residual add is a
//! further pass over the result. oneDNN's matrix product takes the bias, the
//! GELU or the add as post-operations applied while each block of the output is
//! still in cache, and its kernels ran the four shapes of a MiniLM layer (about
//! 1,200 packed tokens) 10–15% faster than MKL here (2-core AMD EPYC, AVX2; see
//! docs/performance.md). libtorch has these fused kernels for its own compiler
//! (`torch.ops.mkldnn._linear_pointwise`), and exports them with a C interface
//! for compiled models (`aoti_torch_cpu__linear_pointwise`, beside every other
//! `aoti_torch_*` function of libtorch_cpu). tch does not bind them, so they are
//! looked up by name when first needed: a libtorch built without oneDNN lacks
//! them, and then every product takes the plain path, with the same numbers up
//! to float rounding. `EMO_FUSED_LINEAR=0` takes the plain path on purpose (to
//! measure one against the other).

use std::ffi::{c_char, c_void, CStr};
use std::sync::OnceLock;
use tch::{Device, Kind, Tensor};
use torch_sys::C_tensor;

/// What the product is followed by.
#[derive(Clone, Copy)]
pub(super) enum Post<'a> {
    Nothing,
    Relu,
    /// GELU, exact (erf) or its tanh approximation.
    Gelu {
        tanh: bool,
    },
    /// The residual stream the product is added to.
    Add(&'a Tensor),
}

/// `aoti_torch_cpu__linear_pointwise(X, W, B*, attr, scalars, scalars_len, algorithm*, ret*)`.
type Pointwise = unsafe extern "C" fn(
    *mut C_tensor,
    *mut C_tensor,
    *mut *mut C_tensor,
    *const c_char,
    *const *const f64,
    i64,
    *const *const c_char,
    *mut *mut C_tensor,
) -> i32;

/// `aoti_torch_cpu__linear_pointwise_binary(X, other, W, B*, attr, ret*)`.
type Binary = unsafe extern "C" fn(
    *mut C_tensor,
    *mut C_tensor,
    *mut C_tensor,
    *mut *mut C_tensor,
    *const c_char,
    *mut *mut C_tensor,
) -> i32;

struct OneDnn {
    pointwise: Pointwise,
    binary: Binary,
}

fn onednn() -> Option<&'static OneDnn> {
    static FOUND: OnceLock<Option<OneDnn>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            if std::env::var("EMO_FUSED_LINEAR").is_ok_and(|v| v == "0") {
                return None;
            }
            let find = |name: &CStr| {
                // SAFETY: dlsym with a NUL-terminated name; libtorch_cpu is linked
                // into the process, so the default scope reaches it.
                let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
                (!p.is_null()).then_some(p)
            };
            let pointwise = find(c"aoti_torch_cpu__linear_pointwise")?;
            let binary = find(c"aoti_torch_cpu__linear_pointwise_binary")?;
            // SAFETY: the symbols are libtorch 2.11's, whose signatures are the
            // types above (torch/csrc/inductor/aoti_torch/c/shim_cpu.h).
            unsafe {
                Some(OneDnn {
                    pointwise: std::mem::transmute::<*mut c_void, Pointwise>(pointwise),
                    binary: std::mem::transmute::<*mut c_void, Binary>(binary),
                })
            }
        })
        .as_ref()
}

/// `post(x · wᵀ + b)` through oneDNN, or `None` where the plain path has to run
/// it: not f32 on the CPU, or no oneDNN in this libtorch. Call it under
/// `tch::no_grad` (the fused kernels record no gradient).
pub(super) fn linear(x: &Tensor, w: &Tensor, b: &Tensor, post: Post) -> Option<Tensor> {
    let f32_cpu = |t: &Tensor| t.device() == Device::Cpu && t.kind() == Kind::Float;
    if !(f32_cpu(x) && f32_cpu(w) && f32_cpu(b)) || x.dim() != 2 {
        return None;
    }
    if let Post::Add(other) = post {
        if !f32_cpu(other) || other.size() != [x.size()[0], w.size()[0]] {
            return None;
        }
    }
    let dnn = onednn()?;
    let ptr = |t: &Tensor| t.as_ptr() as *mut C_tensor;
    let mut bias = ptr(b);
    let mut out: *mut C_tensor = std::ptr::null_mut();
    // SAFETY: every handle is a live tensor of ours (tch's handles are libtorch's
    // `at::Tensor*`, which is what the C interface takes); the strings are
    // NUL-terminated and outlive the call; on success `out` is a new tensor
    // handle that we own.
    let status = unsafe {
        match post {
            Post::Add(other) => (dnn.binary)(
                ptr(x),
                ptr(other),
                ptr(w),
                &mut bias,
                c"add".as_ptr(),
                &mut out,
            ),
            Post::Nothing | Post::Relu | Post::Gelu { .. } => {
                let (attr, algorithm) = match post {
                    Post::Relu => (c"relu", None),
                    Post::Gelu { tanh: false } => (c"gelu", Some(c"none")),
                    Post::Gelu { tanh: true } => (c"gelu", Some(c"tanh")),
                    _ => (c"none", None),
                };
                let algorithm = algorithm.map(CStr::as_ptr);
                (dnn.pointwise)(
                    ptr(x),
                    ptr(w),
                    &mut bias,
                    attr.as_ptr(),
                    std::ptr::null(),
                    0,
                    algorithm
                        .as_ref()
                        .map_or(std::ptr::null(), |a| a as *const *const c_char),
                    &mut out,
                )
            }
        }
    };
    // SAFETY: a zero status leaves a valid new handle in `out`.
    (status == 0 && !out.is_null()).then(|| unsafe { Tensor::from_ptr(out) })
}

#[cfg(test)]
mod tests {
    use super::{linear, Post};
    use tch::{Kind, Tensor};

    fn close(a: &Tensor, b: &Tensor) -> f64 {
        (a - b).abs().max().double_value(&[])
    }

    /// Each fused form against the plain ops it replaces, on rows of a real
    /// layer's shape; `None` would mean this libtorch lacks oneDNN, which emo's
    /// pinned one does not.
    #[test]
    fn fused_products_equal_the_plain_ops() {
        tch::manual_seed(7);
        let opts = (Kind::Float, tch::Device::Cpu);
        let x = Tensor::randn([37, 48], opts);
        let w = Tensor::randn([64, 48], opts) * 0.2;
        let b = Tensor::randn([64], opts);
        let r = Tensor::randn([37, 64], opts);
        let plain = x.linear(&w, Some(&b));
        tch::no_grad(|| {
            let cases = [
                (Post::Nothing, plain.shallow_clone()),
                (Post::Relu, plain.relu()),
                (Post::Gelu { tanh: false }, plain.gelu("none")),
                (Post::Gelu { tanh: true }, plain.gelu("tanh")),
                (Post::Add(&r), &plain + &r),
            ];
            for (post, want) in cases {
                let got = linear(&x, &w, &b, post).expect("oneDNN's fused linear");
                assert_eq!(got.size(), want.size());
                assert!(close(&got, &want) < 1e-4, "{}", close(&got, &want));
            }
        });
        // Not f32 on the CPU: the plain path's job.
        let half = x.to_kind(Kind::BFloat16);
        assert!(linear(&half, &w, &b, Post::Nothing).is_none());
    }
}
