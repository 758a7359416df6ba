//! The arithmetic precision of the encoder's forward pass. Which operations run
//! reduced is decided here and in [`super::bert::Bert::forward_packed`], not by
//! an autocast policy: the matrix products (Q/K/V, attention output, both
//! feed-forward layers), the attention itself and the feed-forward activation
//! run in the compute type; embeddings, residual sums, layer norms, pooling and
//! normalisation stay in f32, and the vectors returned are always f32.

use crate::input_error;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// f32 everywhere: the reference, equal to sentence-transformers
    #[default]
    Fp32,
    /// bfloat16 matrix products and attention (CPUs with AVX-512 BF16 or AMX, GPUs)
    Bf16,
    /// float16 matrix products and attention (CUDA only)
    Fp16,
    /// bf16 on an Ampere or later GPU or a CPU with native bf16 (AVX-512 BF16), fp16 on
    /// Turing or Volta GPUs, fp32 otherwise
    Auto,
}

impl Precision {
    /// The precision to run on `device`: `auto` decided, `fp16` refused off CUDA.
    pub fn resolve(self, device: Device) -> Result<Precision> {
        match (self, device) {
            (Precision::Fp16, Device::Cpu) => Err(input_error!(
                "--precision fp16 needs a CUDA device (CPU float16 matrix products are slow and lose accuracy); use bf16 or fp32"
            )),
            (Precision::Auto, Device::Cpu) if cpu_has_bf16() => Ok(Precision::Bf16),
            (Precision::Auto, Device::Cpu) => Ok(Precision::Fp32),
            (Precision::Auto, Device::Cuda(i)) => {
                Ok(auto_for_gpu(super::device::cuda_capability(i)))
            }
            (Precision::Auto, _) => Ok(Precision::Bf16),
            (Precision::Bf16, Device::Cuda(i)) => {
                if let Some((major, minor)) = super::device::cuda_capability(i) {
                    if major < 8 {
                        eprintln!(
                            "emo: note: this GPU (compute capability {major}.{minor}) has no bf16 tensor cores: bf16 runs slowly on it; --precision fp16 (or auto) is the fast half precision here"
                        );
                    }
                }
                Ok(Precision::Bf16)
            }
            (Precision::Bf16, Device::Cpu) if !cpu_has_bf16() => {
                eprintln!(
                    "emo: note: this CPU has no native bfloat16 arithmetic (AVX-512 BF16): bf16 is emulated, several times slower than fp32 (7× slower on an AVX2 EPYC in emo's benchmark)"
                );
                Ok(Precision::Bf16)
            }
            (p, _) => Ok(p),
        }
    }

    /// The tensor type of the reduced operations.
    pub fn compute_kind(self) -> Kind {
        match self {
            Precision::Fp32 | Precision::Auto => Kind::Float,
            Precision::Bf16 => Kind::BFloat16,
            Precision::Fp16 => Kind::Half,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
            Precision::Fp16 => "fp16",
            Precision::Auto => "auto",
        }
    }
}

/// What `auto` picks on a GPU of compute capability `capability`: bf16 where it
/// has tensor cores (8.0, Ampere, on), fp16 on Volta and Turing (7.x: a T4 or a
/// V100 multiplies bf16 slowly but fp16 fast), fp32 before that; bf16 when the
/// runtime cannot tell, as every GPU libtorch 2.11's CUDA 13 supports is 7.5 or
/// later and most are 8.0 or later.
pub fn auto_for_gpu(capability: Option<(i32, i32)>) -> Precision {
    match capability {
        Some((major, _)) if major >= 8 => Precision::Bf16,
        Some((7, _)) => Precision::Fp16,
        Some(_) => Precision::Fp32,
        None => Precision::Bf16,
    }
}

/// Whether this CPU multiplies bfloat16 natively (AVX-512 BF16), where bf16
/// matrix products are faster than f32 ones; elsewhere libtorch emulates them.
pub fn cpu_has_bf16() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_follows_the_gpu_generation() {
        assert_eq!(auto_for_gpu(Some((9, 0))), Precision::Bf16); // H100/H200
        assert_eq!(auto_for_gpu(Some((8, 6))), Precision::Bf16); // A10, RTX 30xx
        assert_eq!(auto_for_gpu(Some((7, 5))), Precision::Fp16); // T4
        assert_eq!(auto_for_gpu(Some((7, 0))), Precision::Fp16); // V100
        assert_eq!(auto_for_gpu(Some((6, 1))), Precision::Fp32);
        assert_eq!(auto_for_gpu(None), Precision::Bf16);
    }

    #[test]
    fn auto_on_the_cpu_follows_native_bf16_and_fp16_is_refused() {
        let want = if cpu_has_bf16() {
            Precision::Bf16
        } else {
            Precision::Fp32
        };
        assert_eq!(Precision::Auto.resolve(Device::Cpu).unwrap(), want);
        assert_eq!(
            Precision::Fp32.resolve(Device::Cpu).unwrap(),
            Precision::Fp32
        );
        let err = Precision::Fp16.resolve(Device::Cpu).unwrap_err();
        assert!(err.to_string().contains("needs a CUDA device"), "{err}");
    }

    #[test]
    fn the_capability_is_known_for_each_visible_gpu_and_for_no_other_index() {
        use crate::embed::device::{cuda_capability, cuda_devices};
        // No index beyond what the runtime can be asked about has a capability.
        assert_eq!(cuda_capability(usize::MAX), None);
        match cuda_devices() {
            // No CUDA runtime or no device: the lookup comes back empty rather
            // than failing or crashing.
            Err(why) => assert_eq!(cuda_capability(0), None, "{why}"),
            // A GPU machine: each visible GPU has a capability (every GPU the CUDA
            // 13 runtime supports is 7.5 or later) and auto picks a half precision
            // for it; the index after the last is not a device.
            Ok(n) => {
                for i in 0..n {
                    let (major, minor) = cuda_capability(i)
                        .unwrap_or_else(|| panic!("cuda:{i} is visible but has no capability"));
                    assert!(
                        (major, minor) >= (7, 5) && (0..10).contains(&minor),
                        "cuda:{i}: compute capability {major}.{minor}"
                    );
                    assert_ne!(auto_for_gpu(Some((major, minor))), Precision::Fp32);
                }
                assert_eq!(cuda_capability(n), None, "cuda:{n} is past the last GPU");
            }
        }
    }
}
